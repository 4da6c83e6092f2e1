package producer

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
)

// The bucketed lookup must answer what a plain scan of the ranges answers, for
// evenly and unevenly split maps, hash keys on bucket edges and shard boundaries,
// and keys beyond the last range (a gap: the last shard).
func TestShardMapLookupMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	scan := func(ends []aggregation.Hash128, h aggregation.Hash128) int {
		for i, e := range ends {
			if e.Compare(h) >= 0 {
				return i
			}
		}
		return len(ends) - 1
	}
	for round := range 300 {
		n := 1 + rng.IntN(300)
		ends := make([]aggregation.Hash128, n)
		switch round % 3 {
		case 0: // evenly split, like CreateStream
			for i := range ends {
				ends[i] = evenEnd(i, n)
			}
		default: // random boundaries (splits and merges), sometimes short of the top
			for i := range ends {
				ends[i] = aggregation.Hash128{Hi: rng.Uint64(), Lo: rng.Uint64()}
			}
			slices.SortFunc(ends, aggregation.Hash128.Compare)
			if round%3 == 1 {
				ends[n-1] = aggregation.MaxHashKey
			}
		}
		shards := make([]*shard, n)
		for i := range shards {
			shards[i] = &shard{id: fmt.Sprint(i)}
		}
		m := newShardMap(ends, shards)
		check := func(h aggregation.Hash128) {
			t.Helper()
			require.Equal(t, shards[scan(ends, h)].id, m.lookup(h).id, "round %d, %d shards, key %v", round, n, h)
		}
		for range 200 {
			check(aggregation.Hash128{Hi: rng.Uint64(), Lo: rng.Uint64()})
		}
		for _, e := range ends[:min(n, 50)] {
			check(e)
			check(aggregation.Hash128{Hi: e.Hi, Lo: e.Lo + 1})
			check(aggregation.Hash128{Hi: e.Hi, Lo: e.Lo - 1})
		}
		for b := range 1 << mapBucketBits {
			first := uint64(b) << (64 - mapBucketBits)
			check(aggregation.Hash128{Hi: first})
			check(aggregation.Hash128{Hi: first - 1, Lo: ^uint64(0)})
		}
	}
}

// evenEnd is the end of shard i of n evenly split shards, as Kinesis splits them:
// floor((i+1) * 2^128 / n) - 1.
func evenEnd(i, n int) aggregation.Hash128 {
	v := new(big.Int).Lsh(big.NewInt(1), 128)
	v.Mul(v, big.NewInt(int64(i+1)))
	v.Div(v, big.NewInt(int64(n)))
	v.Sub(v, big.NewInt(1))
	h, err := aggregation.ParseHash128(v.String())
	if err != nil {
		panic(err)
	}
	return h
}

// BenchmarkShardMapLookup compares the bucketed lookup with a binary search over
// all shards, for random hash keys.
func BenchmarkShardMapLookup(b *testing.B) {
	for _, n := range []int{4, 64, 1024} {
		ends := make([]aggregation.Hash128, n)
		shards := make([]*shard, n)
		for i := range ends {
			ends[i], shards[i] = evenEnd(i, n), &shard{}
		}
		m := newShardMap(ends, shards)
		rng := rand.New(rand.NewPCG(1, 2))
		keys := make([]aggregation.Hash128, 4096)
		for i := range keys {
			keys[i] = aggregation.Hash128{Hi: rng.Uint64(), Lo: rng.Uint64()}
		}
		var sink *shard
		b.Run(fmt.Sprintf("shards=%d/bucketed", n), func(b *testing.B) {
			for i := range b.N {
				sink = m.lookup(keys[i%len(keys)])
			}
		})
		b.Run(fmt.Sprintf("shards=%d/binary", n), func(b *testing.B) {
			for i := range b.N {
				sink = m.shards[m.search(keys[i%len(keys)], 0, len(ends))]
			}
		})
		_ = sink
	}
}
