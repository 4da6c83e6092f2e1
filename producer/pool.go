package producer

import "sync"

// freeList is a stack of reusable objects shared by the pipeline's goroutines.
// Unlike sync.Pool it keeps its objects across garbage collections, so that a
// producer running flat out allocates nothing and gives the collector no reason to
// run (each cycle would otherwise empty the pools, and refilling them is what
// triggers the next cycle). It only grows when it is empty, so it never holds more
// than the pipeline had in use at once, which the buffer's budget bounds.
type freeList[T any] struct {
	mu    sync.Mutex
	items []T
}

// get returns a kept object, or ok false when there is none.
func (f *freeList[T]) get() (v T, ok bool) {
	f.mu.Lock()
	if n := len(f.items); n > 0 {
		v, ok = f.items[n-1], true
		var zero T
		f.items[n-1] = zero
		f.items = f.items[:n-1]
	}
	f.mu.Unlock()
	return v, ok
}

// put keeps v for reuse.
func (f *freeList[T]) put(v T) {
	f.mu.Lock()
	f.items = append(f.items, v)
	f.mu.Unlock()
}

// urecClassCaps are the capacities of the user record slices the producer reuses, one
// free list each. An aggregate starts with the smallest and moves up as it grows (a
// copy of 8 and then 64 records, against about 440 records of 100 bytes per
// aggregate), so that a shard whose aggregate holds a record or two does not pin a
// slice sized for hundreds: with thousands of shards that would dwarf the buffer.
var urecClassCaps = [...]int{8, 64, 512, 4096}

// urecSlices reuses slices of user records by capacity class.
type urecSlices struct {
	classes [len(urecClassCaps)]freeList[[]urec]
}

// get returns an empty slice with room for at least n records.
func (s *urecSlices) get(n int) []urec {
	for i, c := range urecClassCaps {
		if n <= c {
			if v, ok := s.classes[i].get(); ok {
				return v
			}
			return make([]urec, 0, c)
		}
	}
	return make([]urec, 0, n)
}

// grow returns recs with room for one more record, moved to a slice of the next
// class when full; the old slice is kept for reuse.
func (s *urecSlices) grow(recs []urec) []urec {
	if len(recs) < cap(recs) {
		return recs
	}
	n := max(2*len(recs), 1)
	bigger := append(s.get(n), recs...)
	s.put(recs)
	return bigger
}

// put clears recs (they hold user data and callbacks) and keeps it for reuse in the
// largest class its capacity fills; slices smaller than every class are dropped.
func (s *urecSlices) put(recs []urec) {
	clear(recs)
	c := cap(recs)
	for i := len(urecClassCaps) - 1; i >= 0; i-- {
		if c >= urecClassCaps[i] {
			s.classes[i].put(recs[:0])
			return
		}
	}
}
