package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// takeLoop scans the lease table at once, then every LeaseTakeInterval and when a shard
// finished, taking and stealing leases.
func (w *worker) takeLoop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.takeNow:
			t.Stop()
		}
		n, err := w.takeOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Warn("lease scan failed; will retry", "error", err)
		}
		interval := w.opts.LeaseTakeInterval
		if w.opts.adaptiveTake && err == nil {
			interval = AdaptiveLeaseTakeInterval(n, w.opts.FailoverTime)
			w.lastTakeInterval = interval
		} else if w.opts.adaptiveTake && w.lastTakeInterval > 0 {
			interval = w.lastTakeInterval
		}
		t.Reset(interval)
	}
}

// takeOnce is one take cycle; it returns the number of leases in the table.
func (w *worker) takeOnce(ctx context.Context) (int, error) {
	leases, err := w.c.store.ListLeases(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer: listing leases: %w", err)
	}
	now := time.Now()
	w.tracker.observe(leases, now)

	w.mu.Lock()
	held := make(map[string]*shard, len(w.held))
	for k, s := range w.held {
		held[k] = s
	}
	w.mu.Unlock()

	// A lease this worker holds that the table shows with a newer counter and another
	// owner was marked for a handoff to that owner, or taken: hand it over or stop
	// processing it now rather than at the next renewal.
	for _, l := range leases {
		s := held[l.Key]
		switch {
		case s == nil || l.Owner == w.opts.WorkerID || l.Counter <= s.counter.Load():
		case l.CheckpointOwner == w.opts.WorkerID:
			s.handOver(l)
		default:
			s.lose(fmt.Sprintf("taken by worker %q", l.Owner))
		}
	}
	nheld := 0
	for _, s := range held {
		if !s.isLost() {
			nheld++
		}
	}
	plan := planTakes(planInput{
		leases:  leases,
		me:      w.opts.WorkerID,
		held:    nheld,
		busy:    func(k string) bool { return held[k] != nil },
		expired: func(l checkpoint.Lease) bool { return w.tracker.expired(l, now) },
		// A lease whose owner changed moments ago is not moved again yet: a worker that
		// restarts moments after a survivor took its shards over leaves them.
		settling:     func(l checkpoint.Lease) bool { return w.tracker.settling(l, now) },
		maxLeases:    w.opts.MaxLeasesForWorker,
		byThroughput: w.opts.Balancing == BalanceByThroughput,
		rng:          w.rng,
	})
	attrs := w.m.workerAttrs()
	w.m.numWorkers.Record(ctx, int64(plan.workers), attrs)
	w.m.totalLeases.Record(ctx, int64(plan.total), attrs)
	w.m.expiredLeases.Record(ctx, int64(plan.expired), attrs)

	for _, l := range plan.take {
		w.take(ctx, l, false)
	}
	for _, l := range plan.steal {
		w.take(ctx, l, true)
	}
	w.mu.Lock()
	n := len(w.held)
	w.mu.Unlock()
	w.m.currentLeases.Record(ctx, int64(n), attrs)
	return len(leases), nil
}

// take takes one lease and starts its shard. The write itself is not cancelled by ctx:
// a take that landed must be followed by a shard goroutine, which releases the lease at
// once if the worker is shutting down.
func (w *worker) take(ctx context.Context, l checkpoint.Lease, steal bool) {
	if ctx.Err() != nil {
		return
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.opts.FailoverTime)
	sent := time.Now()
	hs, graceful := w.c.store.(checkpoint.HandoffStore)
	graceful = graceful && steal && !w.opts.DisableGracefulHandoff
	var nl checkpoint.Lease
	var err error
	if graceful {
		nl, err = hs.StartHandoff(tctx, l, w.opts.WorkerID)
	} else {
		nl, err = w.c.store.TakeLease(tctx, l, w.opts.WorkerID)
	}
	cancel()
	if err != nil {
		if !errors.Is(err, checkpoint.ErrLeaseConflict) {
			w.log.Warn("taking a lease failed", "shard", l.Key, "error", err)
		}
		return
	}
	w.m.takenLeases.Add(ctx, 1, w.m.workerAttrs(attribute.Bool("stolen", steal)))
	from := l.Owner
	if from == "" {
		from = "(none)"
	}
	s := newShard(ctx, w, nl, sent)
	if graceful {
		w.log.Info("lease marked for a handoff to this worker; waiting for its owner to finish", "shard", l.Key, "from", from, "throughputKBps", l.ThroughputKBps)
		s.handoff.from, s.handoff.marked = l.Owner, sent
		s.handoff.awaiting.Store(true)
	} else {
		w.log.Info("lease taken", "shard", l.Key, "from", from, "stolen", steal, "checkpoint", nl.Checkpoint.String())
	}
	w.mu.Lock()
	w.held[l.Key] = s
	w.mu.Unlock()
	go s.run() // owned by the worker: waitShards waits for it (s.exited) when Run ends
}
