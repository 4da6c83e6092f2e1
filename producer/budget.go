package producer

import (
	"context"
	"sync"
	"sync/atomic"
)

// budget bounds the records and bytes buffered from Put until their callbacks have
// returned. The fast path is two atomic adds; a Put that does not fit waits on a
// channel that release closes.
type budget struct {
	maxRecords, maxBytes int64

	records, bytes atomic.Int64
	waiters        atomic.Int32

	mu sync.Mutex
	ch chan struct{} // closed and replaced by release while waiters > 0

	// full runs when a Put starts waiting: the pipeline stops waiting for more
	// records (none can come) and sends what it has.
	full func()
}

func newBudget(maxRecords, maxBytes int64) *budget {
	return &budget{maxRecords: maxRecords, maxBytes: maxBytes, ch: make(chan struct{})}
}

// try takes room for one record of n bytes and reports whether it did. A record bigger
// than the whole byte budget is let in when nothing else is buffered, or it could never
// be put. A try that fails undoes its counts, but while they were counted a concurrent
// try may have found the budget full and failed too: a caller whose try failed must
// wake the waiters (acquire does).
func (b *budget) try(n int64) (ok bool) {
	r := b.records.Add(1)
	by := b.bytes.Add(n)
	if (r <= b.maxRecords && by <= b.maxBytes) || r == 1 {
		return true
	}
	b.records.Add(-1)
	b.bytes.Add(-n)
	return false
}

// acquire takes room for one record of n bytes, waiting while the budget is full
// until there is room, ctx ends (its error is returned) or closing is closed
// (ErrClosed).
func (b *budget) acquire(ctx context.Context, n int64, closing <-chan struct{}) error {
	if b.try(n) {
		return nil
	}
	// Our undo may have failed a concurrent Put that would have fitted: wake waiters.
	b.wake()
	b.mu.Lock()
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	if b.full != nil {
		b.full()
	}
	for {
		// Registered as a waiter before trying again: a release that makes room after
		// this try sees the waiter and closes ch.
		if b.try(n) {
			b.mu.Unlock()
			return nil
		}
		ch := b.ch
		b.mu.Unlock()
		if err := waitSignal(ctx, ch, closing); err != nil {
			return err
		}
		b.mu.Lock()
	}
}

// waitSignal waits until ch is closed (nil), ctx ends (its error) or closing is
// closed (ErrClosed).
func waitSignal(ctx context.Context, ch, closing <-chan struct{}) error {
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-closing:
		return ErrClosed
	}
}

// release returns room for records records and n bytes.
func (b *budget) release(records, n int64) {
	if records == 0 && n == 0 {
		return
	}
	b.records.Add(-records)
	b.bytes.Add(-n)
	b.wake()
}

func (b *budget) wake() {
	if b.waiters.Load() == 0 {
		return
	}
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
