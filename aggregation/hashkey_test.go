package aggregation

import (
	"crypto/md5"
	"errors"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
)

var two128 = new(big.Int).Lsh(big.NewInt(1), 128)

// md5Big is the hash key of a partition key computed the slow, obvious way.
func md5Big(pk string) *big.Int {
	sum := md5.Sum([]byte(pk))
	return new(big.Int).SetBytes(sum[:])
}

func TestHashKeyIsMD5ReadAsBigEndianUnsigned(t *testing.T) {
	keys := []string{"", "a", "partitionKey", "日本語のキー", strings.Repeat("k", 256), strings.Repeat("é", 256)}
	for _, k := range keys {
		got, want := HashKey(k), md5Big(k)
		if got.Big().Cmp(want) != 0 || got.String() != want.String() {
			t.Errorf("HashKey(%.20q) = %s, want %s", k, got, want)
		}
	}
	// A well-known value: MD5("") = d41d8cd98f00b204e9800998ecf8427e.
	if got := HashKey(""); got != (Hash128{Hi: 0xd41d8cd98f00b204, Lo: 0xe9800998ecf8427e}) {
		t.Errorf("HashKey(\"\") = %#x", got)
	}
}

func TestUserRecordHashKeyPrefersExplicitHashKey(t *testing.T) {
	h, err := UserRecord{PartitionKey: "a", ExplicitHashKey: "42"}.HashKey()
	if err != nil || h != (Hash128{Lo: 42}) {
		t.Errorf("with EHK: got %v, %v; want 42", h, err)
	}
	h, err = UserRecord{PartitionKey: "a"}.HashKey()
	if err != nil || h != HashKey("a") {
		t.Errorf("without EHK: got %v, %v; want MD5 of the key", h, err)
	}
	if _, err := (UserRecord{PartitionKey: "a", ExplicitHashKey: "-1"}).HashKey(); !errors.Is(err, ErrInvalidHashKey) {
		t.Errorf("invalid EHK: err = %v, want ErrInvalidHashKey", err)
	}
}

func TestParseHash128(t *testing.T) {
	max := new(big.Int).Sub(two128, big.NewInt(1)).String()
	tests := []struct {
		in   string
		want Hash128
		ok   bool
	}{
		{"0", Hash128{}, true},
		{"1", Hash128{Lo: 1}, true},
		{"18446744073709551615", Hash128{Lo: ^uint64(0)}, true},
		{"18446744073709551616", Hash128{Hi: 1}, true},
		{max, MaxHashKey, true},
		{"340282366920938463463374607431768211456", Hash128{}, false}, // 2^128
		{"340282366920938463463374607431768211460", Hash128{}, false}, // overflows in the last digit
		{"999999999999999999999999999999999999999", Hash128{}, false}, // 39 nines
		{strings.Repeat("1", 40), Hash128{}, false},
		{"1" + strings.Repeat("0", 39), Hash128{}, false},
		{"", Hash128{}, false},
		{"00", Hash128{}, false},
		{"01", Hash128{}, false},
		{"+1", Hash128{}, false},
		{"-1", Hash128{}, false},
		{"-0", Hash128{}, false},
		{" 1", Hash128{}, false},
		{"1 ", Hash128{}, false},
		{"12a", Hash128{}, false},
		{"0x10", Hash128{}, false},
		{"１", Hash128{}, false}, // fullwidth digit
	}
	for _, tt := range tests {
		got, err := ParseHash128(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("ParseHash128(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("ParseHash128(%q) error = %v, want one wrapping ErrInvalidHashKey", tt.in, err)
		}
	}
}

func TestHash128StringRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	values := []Hash128{{}, {Lo: 9}, {Lo: 10}, {Lo: pow19 - 1}, {Lo: pow19}, {Hi: 1}, MaxHashKey}
	for range 10000 {
		values = append(values, Hash128{Hi: rng.Uint64() >> rng.UintN(65), Lo: rng.Uint64() >> rng.UintN(65)})
	}
	for _, h := range values {
		s := h.String()
		if want := h.Big().String(); s != want {
			t.Fatalf("%#x.String() = %s, want %s", h, s, want)
		}
		back, err := ParseHash128(s)
		if err != nil || back != h {
			t.Fatalf("ParseHash128(%s) = %#x, %v; want %#x", s, back, err, h)
		}
	}
}

func TestHash128Compare(t *testing.T) {
	ordered := []Hash128{{}, {Lo: 1}, {Lo: ^uint64(0)}, {Hi: 1}, {Hi: 1, Lo: 1}, {Hi: ^uint64(0)}, MaxHashKey}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("%#x.Compare(%#x) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestHashRangeContainsBothBounds(t *testing.T) {
	r, err := ParseHashRange("18446744073709551616", "36893488147419103231") // [2^64, 2^65-1]
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		h    Hash128
		want bool
	}{
		{Hash128{Lo: ^uint64(0)}, false}, // start-1
		{Hash128{Hi: 1}, true},           // start
		{Hash128{Hi: 1, Lo: 5}, true},
		{Hash128{Hi: 1, Lo: ^uint64(0)}, true}, // end
		{Hash128{Hi: 2}, false},                // end+1
	}
	for _, tt := range tests {
		if got := r.Contains(tt.h); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.h, got, tt.want)
		}
	}
	whole := HashRange{End: MaxHashKey}
	if !whole.Contains(Hash128{}) || !whole.Contains(MaxHashKey) {
		t.Error("the whole key space must contain 0 and 2^128-1")
	}
}

func TestParseHashRangeRejects(t *testing.T) {
	for _, tt := range [][2]string{{"2", "1"}, {"x", "1"}, {"0", ""}, {"0", "340282366920938463463374607431768211456"}} {
		if _, err := ParseHashRange(tt[0], tt[1]); !errors.Is(err, ErrInvalidHashKey) {
			t.Errorf("ParseHashRange(%q, %q) error = %v, want ErrInvalidHashKey", tt[0], tt[1], err)
		}
	}
	if r, err := ParseHashRange("7", "7"); err != nil || !r.Contains(Hash128{Lo: 7}) {
		t.Errorf("a one-key range must parse and contain its key: %v, %v", r, err)
	}
}
