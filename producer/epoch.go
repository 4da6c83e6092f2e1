package producer

import (
	"context"
	"sync"
	"sync/atomic"
)

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

// waitEpochs waits until every epoch in eps has finished or ctx ends.
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
