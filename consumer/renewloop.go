package consumer

import (
	"context"
	"sync"
	"time"
)

// renewLoop renews every held lease each FailoverTime/3.
func (w *worker) renewLoop(ctx context.Context) {
	interval := w.opts.FailoverTime / 3
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
