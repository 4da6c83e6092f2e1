package consumer

import (
	"context"
	"sync"
	"time"
)

// renewalsPerFailover is how many times a lease is renewed within FailoverTime: a lease
// expires when its counter has not changed for FailoverTime, so an owner that misses a
// renewal or two still keeps it.
const renewalsPerFailover = 3

// renewLoop renews every held lease each FailoverTime/renewalsPerFailover.
func (w *worker) renewLoop(ctx context.Context) {
	interval := w.opts.FailoverTime / renewalsPerFailover
	t := time.NewTicker(interval)
	defer t.Stop()
	sem := make(chan struct{}, 8)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var wg sync.WaitGroup
		for _, s := range w.heldShards() {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				s.renew(ctx)
			})
		}
		wg.Wait()
	}
}
