package producer

import (
	"slices"

	"github.com/kinesis-go/kinesis/aggregation"
)

// shardMap is the stream's open shards sorted by hash key range, looked up by binary
// search. It is immutable: a refresh builds a new one and swaps it in atomically, so
// Puts never wait for a refresh.
type shardMap struct {
	ends   []aggregation.Hash128 // ends[i] is shards[i].rng.End, ascending
	shards []*shard
	// buckets[b] is the range of indexes of the shards that can hold a hash key whose
	// top mapBucketBits bits are b: the binary search starts there. With evenly split
	// shards a bucket holds one shard, so a lookup is a table load and a comparison
	// instead of log2(shards) mispredicted branches (72 of the router's ~130 ns per
	// record at 64 shards).
	buckets [1 << mapBucketBits]bucketRange
}

// mapBucketBits is how many top bits of a hash key index shardMap.buckets.
const mapBucketBits = 10

type bucketRange struct{ lo, hi uint32 } // shards[lo..hi]

// newShardMap returns the map of shards, sorted by the ends of their ranges.
func newShardMap(ends []aggregation.Hash128, shards []*shard) *shardMap {
	m := &shardMap{ends: ends, shards: shards}
	for b := range m.buckets {
		first := aggregation.Hash128{Hi: uint64(b) << (64 - mapBucketBits)}
		last := aggregation.Hash128{Hi: first.Hi | (1<<(64-mapBucketBits) - 1), Lo: ^uint64(0)}
		m.buckets[b] = bucketRange{uint32(m.search(first, 0, len(ends))), uint32(m.search(last, 0, len(ends)))}
	}
	return m
}

// lookup returns the shard whose range holds h: the first shard whose range ends at
// or after h. A hash key beyond every range (the map has a gap, which a consistent
// AT_LATEST listing does not) goes to the last shard; Kinesis then reports where the
// record landed and the producer corrects itself.
func (m *shardMap) lookup(h aggregation.Hash128) *shard {
	r := m.buckets[h.Hi>>(64-mapBucketBits)]
	if r.lo == r.hi {
		return m.shards[r.lo]
	}
	return m.shards[m.search(h, int(r.lo), int(r.hi))]
}

// search returns the index in [lo, hi] of the first shard whose range ends at or
// after h, or the last shard when none does (see lookup).
func (m *shardMap) search(h aggregation.Hash128, lo, hi int) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e := m.ends[mid]
		if e.Hi < h.Hi || (e.Hi == h.Hi && e.Lo < h.Lo) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m.shards) {
		lo--
	}
	return lo
}

func (m *shardMap) has(s *shard) bool {
	i := m.index(s.rng.End)
	return i < len(m.shards) && m.shards[i] == s
}

func (m *shardMap) index(end aggregation.Hash128) int {
	i, _ := slices.BinarySearchFunc(m.ends, end, aggregation.Hash128.Compare)
	return i
}
