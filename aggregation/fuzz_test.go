package aggregation

import (
	"errors"
	"math"
	"math/big"
	"testing"
	"unsafe"
)

// FuzzDeaggregate feeds arbitrary bytes to Deaggregate, either as they are or
// framed as an aggregate (magic + bytes + valid MD5) so that the fuzzer reaches
// the protobuf parser. Deaggregate must not panic, must only fail with
// ErrMalformed on checksum-valid input, must return Data inside the input, and
// what it returns must survive a round trip through the Aggregator.
func FuzzDeaggregate(f *testing.F) {
	a := NewAggregator(0, 0)
	a.Add(UserRecord{PartitionKey: "k1", Data: []byte("hello")})
	a.Add(UserRecord{PartitionKey: "k2", ExplicitHashKey: "170141183460469231731687303715884105728", Data: nil})
	a.Add(UserRecord{PartitionKey: "k1", Data: []byte("world")})
	kr, _ := a.Drain()
	f.Add(kr.Data, false)
	f.Add(kr.Data[4:len(kr.Data)-16], true)
	f.Add([]byte("plain"), false)
	f.Add([]byte{}, true)
	f.Add(pb(bytesField(1, []byte("k")), record(varintField(1, 0), bytesField(3, []byte("x")), bytesField(4, bytesField(1, []byte("t"))))), true)
	f.Add(pb(
		bytesField(1, []byte("p0")), bytesField(2, []byte("99")), bytesField(1, []byte("p1")), varintField(9, 1),
		record(varintField(1, 1), varintField(2, 0), bytesField(3, []byte("d0"))),
		record(bytesField(3, nil), varintField(1, 0), []byte{0x2d, 1, 2, 3, 4}),
	), true)

	f.Fuzz(func(t *testing.T, in []byte, framed bool) {
		if framed {
			in = wrap(in)
		}
		recs, err := Deaggregate(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || !IsAggregated(in) || recs != nil {
				t.Fatalf("unexpected error %v (aggregated %v, %d records)", err, IsAggregated(in), len(recs))
			}
			return
		}
		if !IsAggregated(in) && (len(recs) != 1 || len(recs[0].Data) != len(in)) {
			t.Fatal("non-aggregated input not returned as one record")
		}
		start := uintptr(unsafe.Pointer(unsafe.SliceData(in)))
		for i, r := range recs {
			if len(r.Data) == 0 {
				continue
			}
			p := uintptr(unsafe.Pointer(unsafe.SliceData(r.Data)))
			if p < start || p+uintptr(len(r.Data)) > start+uintptr(len(in)) {
				t.Fatalf("record %d: Data is not inside the input", i)
			}
		}

		// Round trip: aggregate what was decoded and decode it again.
		agg := NewAggregator(math.MaxInt/2, 0)
		for _, r := range recs {
			if !agg.Add(r) {
				t.Fatal("Add refused a record with no size limit")
			}
		}
		size := agg.Size()
		kr, drained := agg.Drain()
		sameRecords(t, drained, recs)
		switch len(recs) {
		case 0:
			return
		case 1:
			sameRecords(t, []UserRecord{UserRecord(kr)}, recs)
		default:
			if len(kr.Data) != size {
				t.Fatalf("len(Data) = %d, Size was %d", len(kr.Data), size)
			}
			again, err := Deaggregate(kr.Data)
			if err != nil {
				t.Fatalf("re-aggregated records do not decode: %v", err)
			}
			sameRecords(t, again, recs)
		}
	})
}

// FuzzParseHash128 checks ParseHash128 against math/big: it accepts exactly the
// canonical decimals in 0..2^128-1, and String gives the input back.
func FuzzParseHash128(f *testing.F) {
	for _, s := range []string{"0", "1", "00", "-1", "+1", "340282366920938463463374607431768211455", "340282366920938463463374607431768211456", "18446744073709551616", "1e5", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHash128(s)
		if want := canonical(s); (err == nil) != want {
			t.Fatalf("ParseHash128(%q) error = %v, want valid = %v", s, err, want)
		}
		if err != nil {
			if !errors.Is(err, ErrInvalidHashKey) {
				t.Fatalf("error %v does not wrap ErrInvalidHashKey", err)
			}
			return
		}
		if h.String() != s || h.Big().String() != s {
			t.Fatalf("ParseHash128(%q) = %s (big %s)", s, h, h.Big())
		}
	})
}

// canonical is the slow definition of a valid hash key.
func canonical(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	return ok && v.Cmp(two128) < 0
}
