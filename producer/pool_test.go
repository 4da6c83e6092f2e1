package producer

import (
	"context"
	"fmt"
	"hash/maphash"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
)

func TestKeyCacheAgreesWithHashKey(t *testing.T) {
	c := newKeyCache()
	keys := []string{"a", "b", "é", strings.Repeat("k", keyCacheMaxLen), strings.Repeat("k", keyCacheMaxLen+1)}
	// More keys than slots: collisions and evictions, each key asked several times.
	for i := range 6 * keyCacheSets {
		keys = append(keys, fmt.Sprintf("key-%d", i))
	}
	for round := range 3 {
		for i, k := range keys {
			require.Equal(t, aggregation.HashKey(k), c.hash(k), "round %d, key %d %q", round, i, k)
		}
	}
}

// A working set of keys much smaller than the cache stays in it, whatever its keys'
// hashes: the first round computes each key's MD5, later rounds find nearly all of
// them. A direct-mapped cache of the same size misses about a fifth of 1,000 keys in
// every round (each key sharing its slot evicts the other); two ways per set miss
// only the keys of sets that drew three or more, about 2.5% on average.
func TestKeyCacheKeepsAWorkingSet(t *testing.T) {
	for seed := range 20 {
		c := newKeyCache()
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = fmt.Sprintf("%016x", rng.Uint64())
		}
		for _, k := range keys {
			c.hash(k)
		}
		misses := 0
		for range 3 {
			for _, k := range keys {
				s := &c.sets[maphash.String(c.seed, k)&(keyCacheSets-1)]
				if _, ok := s.find(k); !ok {
					misses++
				}
				require.Equal(t, aggregation.HashKey(k), c.hash(k))
			}
		}
		assert.Less(t, misses, 3*len(keys)*8/100, "seed %d: %d misses in 3 rounds of %d keys", seed, misses, len(keys))
	}
}

// Concurrent Puts share the cache; -race checks the slots' locking and the answers
// must stay right while keys evict each other.
func TestKeyCacheConcurrent(t *testing.T) {
	c := newKeyCache()
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := range 20000 {
				k := fmt.Sprintf("k%d", (i*7+g)%(4*keyCacheSets))
				if c.hash(k) != aggregation.HashKey(k) {
					errs <- k
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for k := range errs {
		t.Errorf("wrong hash for %q", k)
	}
}

func TestURecSlicesGrowThroughClasses(t *testing.T) {
	var s urecSlices
	var recs []urec
	var caps []int
	for i := range 600 {
		recs = s.grow(recs)
		if len(caps) == 0 || caps[len(caps)-1] != cap(recs) {
			caps = append(caps, cap(recs))
		}
		recs = append(recs, urec{rec: Record{PartitionKey: fmt.Sprint(i)}})
	}
	assert.Equal(t, []int{8, 64, 512, 4096}, caps)
	for i := range recs {
		require.Equal(t, fmt.Sprint(i), recs[i].rec.PartitionKey, "records kept in order across moves")
	}
	// The outgrown slices were kept, cleared, one per class.
	for i, want := range []int{8, 64, 512} {
		require.Len(t, s.classes[i].items, 1, "class %d", want)
		v := s.classes[i].items[0]
		assert.Equal(t, want, cap(v))
		assert.Empty(t, v)
		for _, u := range v[:cap(v)] {
			require.Equal(t, urec{}, u, "a kept slice must not pin records")
		}
	}
	s.put(recs)
	got := s.get(600)
	assert.Equal(t, 4096, cap(got), "reused from the top class")
	for _, u := range got[:cap(got)] {
		require.Equal(t, urec{}, u)
	}
	// Too small for any class: dropped, not kept.
	s.put(make([]urec, 3))
	assert.Len(t, s.classes[0].items, 1)
}

func TestGetDataReusesOnlyFullSizeBuffers(t *testing.T) {
	p := &Producer{}
	p.opts.AggregationMaxSize = 1000
	small := p.getData(100)
	assert.Equal(t, 100, cap(*small), "a small aggregate gets an exact buffer")
	p.putData(small)
	assert.Empty(t, p.data.items, "small buffers are not kept")
	big := p.getData(600)
	assert.Equal(t, 1000, cap(*big))
	*big = append(*big, 1, 2, 3)
	p.putData(big)
	again := p.getData(900)
	assert.Same(t, big, again)
	assert.Empty(t, *again)
}

// A Put that finds maxQueuedChunks chunks waiting for the router waits until the
// router takes them, or its context ends, or the producer closes; nothing is queued.
func TestPutWaitsForTheRouterQueue(t *testing.T) {
	r := newRouter(&Producer{})
	defer r.poke.Stop()
	fill := func() {
		r.mu.Lock()
		for range maxQueuedChunks {
			r.full = append(r.full, &chunk{})
		}
		r.queued.Store(int32(len(r.full)))
		r.mu.Unlock()
	}
	require.NoError(t, r.waitRoom(context.Background(), nil), "room: returns at once")
	fill()

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- r.waitRoom(ctx, nil) }()
	cancel()
	assert.ErrorIs(t, <-res, context.Canceled)

	closing := make(chan struct{})
	go func() { res <- r.waitRoom(context.Background(), closing) }()
	close(closing)
	assert.ErrorIs(t, <-res, ErrClosed)

	r.mu.Lock()
	r.room = nil // left by the waiters above
	r.mu.Unlock()
	go func() { res <- r.waitRoom(context.Background(), nil) }()
	// Take the queue the way the router does, once the Put is waiting.
	for {
		r.mu.Lock()
		waiting := r.room != nil
		if waiting {
			r.full = nil
			r.queueTaken()
		}
		r.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	assert.NoError(t, <-res)
}

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
