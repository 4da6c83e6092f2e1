package aggregation

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"math/bits"
)

// ErrInvalidHashKey is wrapped by every error about a malformed hash key or hash
// range: anything that is not a decimal integer in 0..2^128-1 written without sign
// or leading zeros, the form Kinesis uses for ExplicitHashKey and HashKeyRange.
var ErrInvalidHashKey = errors.New("aggregation: invalid hash key")

// Hash128 is an unsigned 128-bit Kinesis hash key: the value a partition key's MD5
// maps to, an ExplicitHashKey, or a shard's range bound. It is a plain comparable
// value so that shard lookups on the producer's hot path need no math/big.
type Hash128 struct {
	Hi, Lo uint64 // most and least significant 64 bits
}

// MaxHashKey is 2^128-1, the largest hash key and the end of the last shard's range
// in a stream that was never resharded. Treat it as a constant.
var MaxHashKey = Hash128{Hi: ^uint64(0), Lo: ^uint64(0)}

// HashKey returns the hash key Kinesis derives from a partition key: the MD5 of its
// UTF-8 bytes read as a big-endian unsigned 128-bit integer.
func HashKey(partitionKey string) Hash128 {
	// Copying into a stack buffer keeps the common (short) key allocation free;
	// []byte(partitionKey) would allocate for keys longer than 32 bytes.
	var buf [256]byte
	return hashBytes(append(buf[:0], partitionKey...))
}

func hashBytes(b []byte) Hash128 {
	sum := md5.Sum(b)
	return Hash128{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

// HashKey returns the hash key Kinesis routes r by: its ExplicitHashKey when set
// (parsed, so the error wraps ErrInvalidHashKey if it is malformed), else the MD5
// of its PartitionKey.
func (r UserRecord) HashKey() (Hash128, error) {
	if r.ExplicitHashKey != "" {
		return ParseHash128(r.ExplicitHashKey)
	}
	return HashKey(r.PartitionKey), nil
}

// Compare returns -1, 0 or +1 as h is less than, equal to or greater than o.
func (h Hash128) Compare(o Hash128) int {
	switch {
	case h.Hi < o.Hi:
		return -1
	case h.Hi > o.Hi:
		return 1
	case h.Lo < o.Lo:
		return -1
	case h.Lo > o.Lo:
		return 1
	}
	return 0
}

// pow19 is 10^19, the largest power of ten that fits a uint64; String and
// ParseHash128 work in base-10^19 digits to avoid math/big.
const pow19 = 10_000_000_000_000_000_000

// String returns h in decimal without leading zeros, the form Kinesis uses for
// ExplicitHashKey and shard hash key ranges.
func (h Hash128) String() string {
	var buf [39]byte // 2^128-1 has 39 decimal digits
	i := len(buf)
	hi, lo := h.Hi, h.Lo
	for {
		// Divide the 128-bit value by 10^19: the remainder is the next 19 digits.
		var r uint64
		qhi := hi / pow19
		r = hi % pow19
		lo, r = bits.Div64(r, lo, pow19)
		hi = qhi
		if hi == 0 && lo == 0 {
			// Most significant chunk: no zero padding.
			for {
				i--
				buf[i] = byte('0' + r%10)
				r /= 10
				if r == 0 {
					return string(buf[i:])
				}
			}
		}
		for range 19 {
			i--
			buf[i] = byte('0' + r%10)
			r /= 10
		}
	}
}

// Big returns h as a new big.Int. It is a convenience for callers that already
// work with math/big; prefer Hash128 itself on hot paths.
func (h Hash128) Big() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.Hi)
	binary.BigEndian.PutUint64(b[8:], h.Lo)
	return new(big.Int).SetBytes(b[:])
}

// ParseHash128 parses a decimal hash key in 0..2^128-1 as Kinesis writes it: digits
// only (no sign, no spaces) and no leading zeros except for "0" itself. Errors wrap
// ErrInvalidHashKey.
func ParseHash128(s string) (Hash128, error) {
	if len(s) == 0 || len(s) > 39 {
		return Hash128{}, fmt.Errorf("%w: %q: want 1 to 39 decimal digits", ErrInvalidHashKey, s)
	}
	if s[0] == '0' && len(s) > 1 {
		return Hash128{}, fmt.Errorf("%w: %q: leading zero", ErrInvalidHashKey, s)
	}
	var hi, lo uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return Hash128{}, fmt.Errorf("%w: %q: not a decimal digit at offset %d", ErrInvalidHashKey, s, i)
		}
		// (hi,lo) = (hi,lo)*10 + digit, failing on overflow past 2^128-1.
		ovf, hi10 := bits.Mul64(hi, 10)
		carry, lo10 := bits.Mul64(lo, 10)
		var c1, c2 uint64
		lo, c1 = bits.Add64(lo10, uint64(c-'0'), 0)
		hi, c2 = bits.Add64(hi10, carry, c1)
		if ovf != 0 || c2 != 0 {
			return Hash128{}, fmt.Errorf("%w: %q: greater than 2^128-1", ErrInvalidHashKey, s)
		}
	}
	return Hash128{Hi: hi, Lo: lo}, nil
}

// HashRange is an inclusive range of hash keys, like a shard's HashKeyRange.
type HashRange struct {
	Start, End Hash128
}

// ParseHashRange parses a shard's StartingHashKey and EndingHashKey. Errors wrap
// ErrInvalidHashKey, including when start is greater than end.
func ParseHashRange(start, end string) (HashRange, error) {
	s, err := ParseHash128(start)
	if err != nil {
		return HashRange{}, fmt.Errorf("hash range start: %w", err)
	}
	e, err := ParseHash128(end)
	if err != nil {
		return HashRange{}, fmt.Errorf("hash range end: %w", err)
	}
	if s.Compare(e) > 0 {
		return HashRange{}, fmt.Errorf("%w: hash range start %s is greater than end %s", ErrInvalidHashKey, start, end)
	}
	return HashRange{Start: s, End: e}, nil
}

// Contains reports whether h lies in r, both bounds included.
func (r HashRange) Contains(h Hash128) bool {
	return r.Start.Compare(h) <= 0 && h.Compare(r.End) <= 0
}
