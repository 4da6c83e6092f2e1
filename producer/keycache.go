package producer

import (
	"hash/maphash"
	"sync"

	"github.com/kinesis-go/kinesis/aggregation"
)

// keyCache remembers the hash keys (MD5) of recently put partition keys. Streams are
// usually written with keys that repeat (a user, device or order id), and the MD5
// of a key costs more than everything else Put does: a hit costs a fast hash, an
// uncontended lock and a string comparison instead.
//
// It is two-way set associative: a key may sit in either slot of the set its hash
// picks, and a miss replaces the slot used less recently. A direct-mapped table of
// the same size would keep two keys that share a slot evicting each other on every
// use: with 1,000 live keys about a fifth of them would share one, and miss each
// time; with two ways only keys of sets holding three or more do (a few percent).
// Keys longer than keyCacheMaxLen are not cached, which bounds what the cache keeps
// alive of the callers' strings to keyCacheSets*2*keyCacheMaxLen bytes.
type keyCache struct {
	seed maphash.Seed
	sets []keySet
}

type keySet struct {
	mu     sync.Mutex
	recent uint8 // the way hit or filled last
	keys   [2]string
	hashes [2]aggregation.Hash128
}

const (
	keyCacheSets   = 4096 // a power of two; two keys each
	keyCacheMaxLen = 64
)

func newKeyCache() *keyCache {
	return &keyCache{seed: maphash.MakeSeed(), sets: make([]keySet, keyCacheSets)}
}

// hash returns aggregation.HashKey(key).
func (c *keyCache) hash(key string) aggregation.Hash128 {
	if len(key) > keyCacheMaxLen || key == "" { // "" would match an empty slot
		return aggregation.HashKey(key)
	}
	s := &c.sets[maphash.String(c.seed, key)&(keyCacheSets-1)]
	s.mu.Lock()
	if w, ok := s.find(key); ok {
		h := s.hashes[w]
		s.recent = w
		s.mu.Unlock()
		return h
	}
	s.mu.Unlock()
	h := aggregation.HashKey(key) // outside the lock: other keys of the set go on
	s.mu.Lock()
	if _, ok := s.find(key); !ok { // another Put may have added it meanwhile
		w := 1 - s.recent
		s.keys[w], s.hashes[w], s.recent = key, h, w
	}
	s.mu.Unlock()
	return h
}

func (s *keySet) find(key string) (uint8, bool) {
	switch key {
	case s.keys[0]:
		return 0, true
	case s.keys[1]:
		return 1, true
	}
	return 0, false
}
