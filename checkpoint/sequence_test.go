package checkpoint

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const realSeq = "49590338271490256608559692538361571095921575989136588898" // 56 digits, as Kinesis issues

func seq(s string, sub int64) ExtendedSequenceNumber {
	return ExtendedSequenceNumber{SequenceNumber: s, SubSequenceNumber: sub}
}

func TestCompareOrdersSentinelsAroundSequenceNumbers(t *testing.T) {
	// Strictly increasing, as the KCL orders them.
	ordered := []ExtendedSequenceNumber{
		PositionAtTimestamp,
		PositionTrimHorizon,
		PositionLatest,
		seq("0", 0),
		seq("1", 0),
		seq("1", 1),
		seq("9", 0),
		seq("10", 0),
		seq("340282366920938463463374607431768211455", 0), // 2^128-1
		seq("340282366920938463463374607431768211456", 0), // 2^128: beyond 128 bits still compares
		seq(realSeq[:len(realSeq)-1], 0),                  // one digit shorter
		seq(realSeq, 0),
		seq(realSeq, 1),
		seq(realSeq, 2),
		seq("49590338271490256608559692538361571095921575989136588899", 0), // last digit +1
		seq(realSeq+"0", 0), // one digit longer
		PositionShardEnd,
	}
	for i, a := range ordered {
		for j, b := range ordered {
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			assert.Equal(t, want, a.Compare(b), "%v vs %v", a, b)
		}
	}
	// Sorting a shuffled copy restores the order.
	shuffled := slices.Clone(ordered)
	slices.Reverse(shuffled)
	shuffled[0], shuffled[5] = shuffled[5], shuffled[0]
	slices.SortFunc(shuffled, ExtendedSequenceNumber.Compare)
	assert.Equal(t, ordered, shuffled)
}

func TestCompareIgnoresLeadingZerosAndTiesOnSubsequence(t *testing.T) {
	assert.Equal(t, 0, seq("00123", 4).Compare(seq("123", 4)))
	assert.Equal(t, -1, seq("00123", 3).Compare(seq("123", 4)))
	assert.Equal(t, 1, seq("124", 0).Compare(seq("0123", 99)))
	assert.Equal(t, 0, seq(realSeq, 7).Compare(seq(realSeq, 7)))
	// A sentinel's subsequence breaks ties between equal sentinels only.
	assert.Equal(t, 1, PositionTrimHorizon.Compare(seq(AtTimestamp, 5)))
	assert.Equal(t, -1, PositionShardEnd.Compare(seq(ShardEnd, 1)))
}

func TestCompareSortsMalformedBeforeEverything(t *testing.T) {
	for _, bad := range []string{"", "abc", "12a", "-5"} {
		assert.Equal(t, -1, seq(bad, 0).Compare(PositionAtTimestamp), "%q", bad)
		assert.Equal(t, 1, PositionAtTimestamp.Compare(seq(bad, 0)), "%q", bad)
		assert.Equal(t, -1, seq(bad, 0).Compare(seq("0", 0)), "%q", bad)
	}
}

func TestParseExtendedSequenceNumber(t *testing.T) {
	valid := []ExtendedSequenceNumber{
		PositionTrimHorizon, PositionLatest, PositionAtTimestamp, PositionShardEnd,
		seq("0", 0), seq(realSeq, 0), seq(realSeq, 12345), seq(strings.Repeat("9", maxSequenceDigits), 0),
	}
	for _, want := range valid {
		got, err := ParseExtendedSequenceNumber(want.SequenceNumber, want.SubSequenceNumber)
		require.NoError(t, err, "%v", want)
		assert.Equal(t, want, got)
	}
	invalid := []struct {
		seq string
		sub int64
	}{
		{"", 0},
		{"trim_horizon", 0}, // sentinels are case-sensitive, as the KCL writes them
		{"LATEST ", 0},
		{"12 3", 0},
		{"-1", 0},
		{"+1", 0},
		{"1.5", 0},
		{"0x1F", 0},
		{strings.Repeat("9", maxSequenceDigits+1), 0},
		{realSeq, -1},
		{Latest, -1},
	}
	for _, in := range invalid {
		_, err := ParseExtendedSequenceNumber(in.seq, in.sub)
		require.ErrorIs(t, err, ErrInvalidSequenceNumber, "%q/%d", in.seq, in.sub)
	}
}

func TestExtendedSequenceNumberPredicatesAndString(t *testing.T) {
	assert.True(t, PositionLatest.IsSentinel())
	assert.False(t, seq(realSeq, 0).IsSentinel())
	assert.True(t, PositionShardEnd.IsShardEnd())
	assert.False(t, PositionLatest.IsShardEnd())
	assert.True(t, ExtendedSequenceNumber{}.IsZero())
	assert.False(t, seq("0", 0).IsZero())
	assert.Equal(t, realSeq, seq(realSeq, 0).String())
	assert.Equal(t, realSeq+"/3", seq(realSeq, 3).String())
}
