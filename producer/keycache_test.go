package producer

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
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
