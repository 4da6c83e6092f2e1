package consumer

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// worker is the state of one Run.
type worker struct {
	c          *Consumer
	opts       *Options
	log        *slog.Logger
	m          *metrics
	initialPos checkpoint.ExtendedSequenceNumber
	childPos   checkpoint.ExtendedSequenceNumber

	mu   sync.Mutex
	held map[string]*shard // shards with a running goroutine

	takeNow    chan struct{} // a take cycle is wanted soon (capacity 1)
	syncNow    chan struct{} // a shard sync is wanted soon (capacity 1)
	shardEnded *broadcast    // a shard finished on this worker (children may start)
	tracker    *expiryTracker
	rng        *rand.Rand
	panics     panicLog // processor panics whose stack was logged

	deliveredWindow int // Kinesis records a shard remembers for CheckpointAt (deliveredLog)

	streamARN string // RetrievalFanOut: the stream's ARN
	// arnLock (capacity 1) is held to read or set consumerARN, and while registering
	// again. A channel, not a mutex: a shard waiting for a registration sleeping between
	// attempts is durably blocked, so testing/synctest's clock moves on.
	arnLock     chan struct{}
	consumerARN string // RetrievalFanOut: the registered stream consumer

	lastTakeInterval time.Duration // adaptive LeaseTakeInterval after the last good scan (takeLoop only)
}

func newWorker(c *Consumer) *worker {
	w := &worker{
		c:          c,
		opts:       &c.opts,
		log:        c.log,
		m:          c.metrics,
		held:       make(map[string]*shard),
		takeNow:    make(chan struct{}, 1),
		syncNow:    make(chan struct{}, 1),
		shardEnded: newBroadcast(),
		arnLock:    make(chan struct{}, 1),
		tracker:    newExpiryTracker(c.opts.FailoverTime),
		rng:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),

		deliveredWindow: deliveredWindow(&c.opts),
	}
	switch c.opts.InitialPosition {
	case InitialPositionTrimHorizon:
		w.initialPos, w.childPos = checkpoint.PositionTrimHorizon, checkpoint.PositionTrimHorizon
	case InitialPositionAtTimestamp:
		w.initialPos, w.childPos = checkpoint.PositionAtTimestamp, checkpoint.PositionAtTimestamp
	default:
		w.initialPos, w.childPos = checkpoint.PositionLatest, checkpoint.PositionTrimHorizon
	}
	return w
}

func (w *worker) run(ctx context.Context) error {
	// The first shard sync must succeed: without it a new stream has no leases.
	first := w.retrier(func(attempt int, delay time.Duration, err error) {
		w.log.Warn("initial shard sync failed; retrying", "attempt", attempt, "delay", delay, "error", err)
	})
	first.permanent = permanent
	if err := first.do(ctx, func(int) error { return w.syncShards(ctx) }); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	w.log.Info("worker started", "failoverTime", w.opts.FailoverTime, "leaseTakeInterval", w.opts.LeaseTakeInterval)

	// Renewal outlives ctx: leases stay held while processors shut down.
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	var renewer, loops sync.WaitGroup
	renewer.Go(func() { w.renewLoop(renewCtx) })
	loops.Go(func() { w.takeLoop(ctx) })
	loops.Go(func() { w.syncLoop(ctx) })

	<-ctx.Done()
	loops.Wait()                      // no new shard starts after this
	overdue, waited := w.waitShards() // each shard: ShutdownRequested, then release
	stopRenew()
	renewer.Wait()
	w.m.currentLeases.Record(context.Background(), 0, w.m.workerAttrs())
	if len(overdue) > 0 {
		err := &ShutdownTimeoutError{Shards: shardIDs(overdue), Waited: waited}
		w.log.Error("worker stopped without waiting for overdue processors", "error", err)
		return err
	}
	w.log.Info("worker stopped; leases released")
	return nil
}

// permanent reports errors a retry cannot fix.
func permanent(err error) bool {
	return errors.Is(err, ErrStreamNotFound) || errors.Is(err, ErrAccessDenied) ||
		errors.Is(err, checkpoint.ErrAccessDenied) || errors.Is(err, checkpoint.ErrTableNotFound) ||
		errors.Is(err, checkpoint.ErrTableSchema) || errors.Is(err, checkpoint.ErrInvalidLease)
}

func (w *worker) kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (w *worker) heldShards() []*shard {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*shard, 0, len(w.held))
	for _, s := range w.held {
		out = append(out, s)
	}
	return out
}

// shardExited removes a finished shard goroutine.
func (w *worker) shardExited(s *shard) {
	w.mu.Lock()
	if w.held[s.id] == s {
		delete(w.held, s.id)
	}
	n := len(w.held)
	w.mu.Unlock()
	w.m.currentLeases.Record(context.Background(), int64(n), w.m.workerAttrs())
	w.kick(w.takeNow)
}
