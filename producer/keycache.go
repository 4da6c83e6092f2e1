package producer

import (
	"hash/maphash"
	"sync"

	"github.com/kinesis-go/kinesis/aggregation"
)

// keyCache remembers the hash keys (MD5) of recently put partition keys. Streams are
// usually written with keys that repeat (a user, device or order id), and the MD5
// of a key costs more than everything else Put does: a hit costs a fast hash, an
// uncontended lock and a string comparison instead. It is direct-mapped, a slot per
// key hash, so a miss (a new key, or one evicted by another) only adds that lookup.
// Keys longer than keyCacheMaxLen are not cached, which bounds what the cache keeps
// alive of the callers' strings to keyCacheSlots*keyCacheMaxLen bytes.
type keyCache struct {
	seed  maphash.Seed
	slots []keySlot
}

type keySlot struct {
	mu   sync.Mutex
	key  string
	hash aggregation.Hash128
}

const (
	keyCacheSlots  = 4096 // a power of two
	keyCacheMaxLen = 64
)

func newKeyCache() *keyCache {
	return &keyCache{seed: maphash.MakeSeed(), slots: make([]keySlot, keyCacheSlots)}
}

// hash returns aggregation.HashKey(key).
func (c *keyCache) hash(key string) aggregation.Hash128 {
	if len(key) > keyCacheMaxLen {
		return aggregation.HashKey(key)
	}
	s := &c.slots[maphash.String(c.seed, key)&(keyCacheSlots-1)]
	s.mu.Lock()
	if s.key == key && s.key != "" {
		h := s.hash
		s.mu.Unlock()
		return h
	}
	s.mu.Unlock()
	h := aggregation.HashKey(key)
	s.mu.Lock()
	s.key, s.hash = key, h
	s.mu.Unlock()
	return h
}
