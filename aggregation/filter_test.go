package aggregation

import (
	"slices"
	"testing"
)

func TestFilterHashRangeKeepsInRangeRecordsWithTheirIndexes(t *testing.T) {
	// The lower half of the key space, as a child shard after a split.
	lower := HashRange{End: Hash128{Hi: 1 << 63, Lo: 0}.minusOne()}
	var low, high string // partition keys hashing into each half
	for i := 0; low == "" || high == ""; i++ {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		if lower.Contains(HashKey(k)) {
			low = k
		} else {
			high = k
		}
	}
	recs := []UserRecord{
		{PartitionKey: low},
		{PartitionKey: high},                                      // outside: dropped
		{PartitionKey: high, ExplicitHashKey: "0"},                // EHK decides: inside
		{PartitionKey: low, ExplicitHashKey: MaxHashKey.String()}, // outside
		{PartitionKey: low, ExplicitHashKey: "not a key"},         // cannot be placed: kept
		{Data: []byte("not aggregated")},                          // no keys: kept
	}
	var kept []int
	for i, r := range FilterHashRange(recs, lower) {
		if r.PartitionKey != recs[i].PartitionKey || r.ExplicitHashKey != recs[i].ExplicitHashKey {
			t.Fatalf("index %d yielded with another record", i)
		}
		kept = append(kept, i)
	}
	if want := []int{0, 2, 4, 5}; !slices.Equal(kept, want) {
		t.Fatalf("kept subsequence numbers %v, want %v", kept, want)
	}
	for range FilterHashRange(recs, lower) {
		break // stopping early must not panic
	}
}

func (h Hash128) minusOne() Hash128 {
	if h.Lo == 0 {
		return Hash128{Hi: h.Hi - 1, Lo: ^uint64(0)}
	}
	return Hash128{Hi: h.Hi, Lo: h.Lo - 1}
}
