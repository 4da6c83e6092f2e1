package kinesistest

import (
	"strconv"
	"strings"
	"unsafe"
)

// Sequence numbers are 56 decimal digits shaped like AWS's: "49", then a
// 24-digit counter unique and increasing per stream, then the 30-digit shard
// number. Every record, shard start and shard end takes the next counter value,
// so sequence numbers increase per shard (and across a stream), compare
// correctly as big integers, and tell which shard they belong to.
const (
	seqLen        = 56
	seqCounterLen = 24
	seqShardLen   = 30
)

// appendSeq appends the sequence number of counter c in the shard whose
// 30-digit suffix is suffix (see seqSuffix).
func appendSeq(b []byte, c uint64, suffix string) []byte {
	const prefix = "49000000000000000000000000" // "49" + 24 zeros
	n := len(b)
	b = append(b, prefix...)
	b = append(b, suffix...)
	for i := n + len(prefix) - 1; c > 0; i-- {
		b[i] = byte('0' + c%10)
		c /= 10
	}
	return b
}

// seqSuffix returns the last 30 digits of the sequence numbers of shard idx.
func seqSuffix(idx int) string {
	s := strconv.Itoa(idx)
	return strings.Repeat("0", seqShardLen-len(s)) + s
}

// parseSeq returns the counter and shard number of a sequence number made by
// appendSeq.
func parseSeq(s string) (c uint64, idx int, ok bool) {
	if len(s) != seqLen || s[0] != '4' || s[1] != '9' {
		return 0, 0, false
	}
	for i := 2; i < seqLen; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, 0, false
		}
	}
	const maxU64 = "000018446744073709551615" // 2^64-1 in 24 digits
	if s[2:2+seqCounterLen] > maxU64 {
		return 0, 0, false
	}
	for i := 2; i < 2+seqCounterLen; i++ {
		c = c*10 + uint64(s[i]-'0')
	}
	shard := s[2+seqCounterLen:]
	const maxShard = "000000000000000000000999999999"
	if shard > maxShard {
		return 0, 0, false
	}
	for i := 0; i < len(shard); i++ {
		idx = idx*10 + int(shard[i]-'0')
	}
	return c, idx, true
}

// bytesToString returns b as a string without copying. b must never be
// modified afterwards; the callers build b for this purpose and drop it.
func bytesToString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
