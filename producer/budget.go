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

// try takes room for one record of n bytes. A record bigger than the whole byte budget
// is let in when nothing else is buffered, or it could never be put. It reports
// whether it undid a failed attempt, which may have made another Put fail spuriously.
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

// epoch counts the records put between two Flush (or Close) calls, so that a Flush
// can wait for exactly the records put before it. pending holds one extra count, the
// seal token, until Flush seals the epoch: it reaches 0 only once the epoch is sealed
// and all its records are done.
type epoch struct {
	pending  atomic.Int64
	finished atomic.Bool
	done     chan struct{}
	closed   bool // the epoch after Close: Put fails
}

func newEpoch() *epoch {
	e := &epoch{done: make(chan struct{})}
	e.pending.Store(1)
	return e
}

type epochs struct {
	cur  atomic.Pointer[epoch]
	mu   sync.Mutex
	open []*epoch // sealed epochs not finished yet, oldest first
}

func newEpochs() *epochs {
	e := &epochs{}
	e.cur.Store(newEpoch())
	return e
}

// enter counts one record in the current epoch; nil means the producer is closed.
func (e *epochs) enter() *epoch {
	for {
		ep := e.cur.Load()
		if ep.closed {
			return nil
		}
		if ep.pending.Add(1) > 1 {
			return ep
		}
		// ep was sealed and finished between the load and the add: a newer epoch is
		// current. Undo (finish runs once) and retry.
		e.exit(ep, 1)
	}
}

// exit marks n records of ep done.
func (e *epochs) exit(ep *epoch, n int64) {
	if ep.pending.Add(-n) == 0 && ep.finished.CompareAndSwap(false, true) {
		close(ep.done)
		e.mu.Lock()
		for i, o := range e.open {
			if o == ep {
				e.open = append(e.open[:i], e.open[i+1:]...)
				break
			}
		}
		e.mu.Unlock()
	}
}

// seal starts a new epoch (a closed one when closing) and returns the epochs that
// records put so far belong to.
func (e *epochs) seal(closing bool) []*epoch {
	e.mu.Lock()
	old := e.cur.Load()
	if old.closed {
		e.mu.Unlock()
		return nil
	}
	next := newEpoch()
	if closing {
		next.closed = true
		next.pending.Store(0)
	}
	e.cur.Store(next)
	e.open = append(e.open, old)
	wait := append([]*epoch(nil), e.open...)
	e.mu.Unlock()
	e.exit(old, 1) // the seal token
	return wait
}

// wait waits until every epoch in eps has finished or ctx ends.
func waitEpochs(ctx context.Context, eps []*epoch) error {
	for _, ep := range eps {
		select {
		case <-ep.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
