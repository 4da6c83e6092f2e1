package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Checkpoint sentinels, as the KCL writes them in the checkpoint attribute.
const (
	// TrimHorizon: start at the oldest record of the shard.
	TrimHorizon = "TRIM_HORIZON"
	// Latest: start after the newest record at the time the shard is first read.
	Latest = "LATEST"
	// AtTimestamp: start at the configured timestamp.
	AtTimestamp = "AT_TIMESTAMP"
	// ShardEnd: the shard is closed and every record of it was processed.
	ShardEnd = "SHARD_END"
)

// ErrInvalidSequenceNumber is wrapped by ParseExtendedSequenceNumber's errors.
var ErrInvalidSequenceNumber = errors.New("checkpoint: invalid sequence number")

// ExtendedSequenceNumber is a position in a shard: a Kinesis sequence number (a decimal
// of up to 129 digits; today's are 56 digits long) or one of the sentinels TrimHorizon, Latest, AtTimestamp, ShardEnd,
// plus the subsequence number of a user record inside a KPL-aggregated record.
//
// Positions are totally ordered the way the KCL orders them:
// AtTimestamp < TrimHorizon < Latest < any sequence number < ShardEnd; sequence numbers
// compare as integers, then by SubSequenceNumber.
type ExtendedSequenceNumber struct {
	// SequenceNumber is the decimal sequence number or a sentinel.
	SequenceNumber string
	// SubSequenceNumber is the index of the user record in its aggregate (0 if none).
	SubSequenceNumber int64
}

// Sentinel positions.
var (
	PositionTrimHorizon = ExtendedSequenceNumber{SequenceNumber: TrimHorizon}
	PositionLatest      = ExtendedSequenceNumber{SequenceNumber: Latest}
	PositionAtTimestamp = ExtendedSequenceNumber{SequenceNumber: AtTimestamp}
	PositionShardEnd    = ExtendedSequenceNumber{SequenceNumber: ShardEnd}
)

// ParseExtendedSequenceNumber validates seq (a sentinel or a decimal sequence number) and
// returns it with subSeq.
func ParseExtendedSequenceNumber(seq string, subSeq int64) (ExtendedSequenceNumber, error) {
	e := ExtendedSequenceNumber{SequenceNumber: seq, SubSequenceNumber: subSeq}
	if subSeq < 0 {
		return e, fmt.Errorf("%w: subsequence number %d is negative", ErrInvalidSequenceNumber, subSeq)
	}
	if e.IsSentinel() {
		return e, nil
	}
	if !isDecimal(seq) {
		return e, fmt.Errorf("%w: %q is neither a decimal sequence number nor one of %s, %s, %s, %s",
			ErrInvalidSequenceNumber, seq, TrimHorizon, Latest, AtTimestamp, ShardEnd)
	}
	return e, nil
}

// maxSequenceDigits is the longest sequence number the Kinesis API allows (its pattern is
// 0|([1-9]\d{0,128})). Real ones have 56 digits today, more than 128 bits.
const maxSequenceDigits = 129

func isDecimal(s string) bool {
	if s == "" || len(s) > maxSequenceDigits {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// IsSentinel reports whether the position is one of the sentinels rather than a sequence
// number.
func (e ExtendedSequenceNumber) IsSentinel() bool {
	return sentinelRank(e.SequenceNumber) != 0
}

// IsShardEnd reports whether the position is ShardEnd.
func (e ExtendedSequenceNumber) IsShardEnd() bool { return e.SequenceNumber == ShardEnd }

// IsZero reports whether no position is set.
func (e ExtendedSequenceNumber) IsZero() bool {
	return e.SequenceNumber == "" && e.SubSequenceNumber == 0
}

// String returns "seq" or "seq/sub" when the subsequence number is not zero.
func (e ExtendedSequenceNumber) String() string {
	if e.SubSequenceNumber == 0 {
		return e.SequenceNumber
	}
	return e.SequenceNumber + "/" + strconv.FormatInt(e.SubSequenceNumber, 10)
}

// sentinelRank orders sentinels around sequence numbers (which rank 0).
func sentinelRank(s string) int {
	switch s {
	case AtTimestamp:
		return -3
	case TrimHorizon:
		return -2
	case Latest:
		return -1
	case ShardEnd:
		return 1
	}
	return 0
}

// Compare returns -1, 0 or +1 as e is before, equal to or after o. An empty or
// malformed sequence number sorts before every valid position.
func (e ExtendedSequenceNumber) Compare(o ExtendedSequenceNumber) int {
	if c := compareSequence(e.SequenceNumber, o.SequenceNumber); c != 0 {
		return c
	}
	switch {
	case e.SubSequenceNumber < o.SubSequenceNumber:
		return -1
	case e.SubSequenceNumber > o.SubSequenceNumber:
		return 1
	}
	return 0
}

func compareSequence(a, b string) int {
	ra, rb := sentinelRank(a), sentinelRank(b)
	va, vb := ra != 0 || isDecimal(a), rb != 0 || isDecimal(b)
	switch {
	case !va || !vb:
		if va != vb {
			if va {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	case ra != 0 || rb != 0:
		return cmpInt(ra, rb)
	}
	// Both decimal: compare by length after dropping leading zeros, then lexically.
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
