package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"go.opentelemetry.io/otel/attribute"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// Client is the part of *kinesis.Client the consumer uses.
type Client interface {
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, optFns ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

var _ Client = (*kinesis.Client)(nil)

// tableEnsurer is implemented by stores that can create or check their table
// (checkpoint.DynamoDB); Run calls it first so that a missing table or permission fails
// fast.
type tableEnsurer interface {
	EnsureTable(ctx context.Context) error
}

// Consumer processes a Kinesis stream with one RecordProcessor per shard, sharing the
// shards with every other Consumer that uses the same lease Store. Create it with New and
// start it with Run.
type Consumer struct {
	client       Client
	stream       string
	store        checkpoint.Store
	newProcessor func(shardID string) RecordProcessor
	opts         Options
	log          *slog.Logger
	metrics      *metrics
	running      atomic.Bool
	readInterval time.Duration // minReadInterval; benchmarks lower it

	fanOut            FanOutClient  // set for RetrievalFanOut
	subscribe         subscribeFunc // opens a subscription; tests script it
	subscribeInterval time.Duration // minSubscribeInterval; tests may lower it
}

// New returns a Consumer of streamName that keeps leases and checkpoints in store and
// processes each shard it holds with a RecordProcessor from newProcessor. It validates
// its arguments and options (errors match ErrInvalidOptions) and does no I/O.
func New(client Client, streamName string, store checkpoint.Store, newProcessor func(shardID string) RecordProcessor, optFns ...func(*Options)) (*Consumer, error) {
	switch {
	case client == nil:
		return nil, fmt.Errorf("%w: the Kinesis client is nil", ErrInvalidOptions)
	case streamName == "":
		return nil, fmt.Errorf("%w: the stream name is empty", ErrInvalidOptions)
	case store == nil:
		return nil, fmt.Errorf("%w: the lease store is nil; use checkpoint.NewDynamoDB (or checkpoint.NewMemory for one process)", ErrInvalidOptions)
	case newProcessor == nil:
		return nil, fmt.Errorf("%w: newProcessor is nil; use NewFunc for a plain function", ErrInvalidOptions)
	}
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if err := o.resolve(streamName); err != nil {
		return nil, err
	}
	var fc FanOutClient
	if o.Retrieval == RetrievalFanOut {
		var ok bool
		if fc, ok = client.(FanOutClient); !ok {
			return nil, fmt.Errorf("%w: Retrieval FANOUT needs a client with RegisterStreamConsumer, DescribeStreamConsumer, DeregisterStreamConsumer and SubscribeToShard (FanOutClient, e.g. *kinesis.Client); %T has not", ErrInvalidOptions, client)
		}
	}
	m, err := newMetrics(o.MeterProvider, o.ApplicationName, streamName, o.WorkerID)
	if err != nil {
		return nil, fmt.Errorf("consumer: creating metric instruments: %w", err)
	}
	c := &Consumer{
		client:       client,
		stream:       streamName,
		store:        store,
		newProcessor: newProcessor,
		opts:         o,
		log:          o.Logger.With("stream", streamName, "worker", o.WorkerID),
		metrics:      m,
		readInterval: minReadInterval,

		fanOut:            fc,
		subscribeInterval: minSubscribeInterval,
	}
	if ss, ok := fc.(streamSubscriber); ok {
		c.subscribe = ss.subscribeStream
	} else if fc != nil {
		c.subscribe = clientSubscribe(fc)
	}
	return c, nil
}

// WorkerID returns the id this worker writes as the owner of its leases.
func (c *Consumer) WorkerID() string { return c.opts.WorkerID }

// Run processes the stream until ctx is cancelled, then shuts down gracefully and
// returns nil: reading stops, each processor's ShutdownRequested is called (with a
// context bounded by Options.ShutdownTimeout) while its lease is still held, then every
// held lease is released so other workers take the shards at once. Nothing Run started
// is left running when it returns.
//
// Run returns an error only when it cannot start: the lease table is missing or not
// accessible, the stream does not exist or may not be read (errors match
// ErrStreamNotFound, ErrAccessDenied or the store's errors). Failures while running
// (throttling, network errors, processor errors) are logged and retried.
func (c *Consumer) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	if et, ok := c.store.(tableEnsurer); ok {
		if err := et.EnsureTable(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consumer: lease table: %w", err)
		}
	}
	sum, err := c.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.stream)})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return kinesisError(c.stream, "kinesis:DescribeStreamSummary", err)
	}
	w := newWorker(c)
	if c.fanOut != nil {
		var streamARN string
		if sum.StreamDescriptionSummary != nil {
			streamARN = aws.ToString(sum.StreamDescriptionSummary.StreamARN)
		}
		arn, err := c.registerConsumer(ctx, streamARN)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fanOutError(c.stream, err)
		}
		w.streamARN, w.consumerARN = streamARN, arn
		if c.opts.DeregisterOnShutdown {
			defer func() {
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ShutdownTimeout)
				defer cancel()
				c.deregisterConsumer(dctx, w.currentConsumerARN())
			}()
		}
	}
	return w.run(ctx)
}

// worker is the state of one Run.
type worker struct {
	c          *Consumer
	opts       *Options
	log        *slog.Logger
	m          *metrics
	initialPos checkpoint.ExtendedSequenceNumber
	childPos   checkpoint.ExtendedSequenceNumber

	mu     sync.Mutex
	held   map[string]*shard // shards with a running goroutine
	shards sync.WaitGroup    // shard goroutines

	takeNow    chan struct{} // a take cycle is wanted soon (capacity 1)
	syncNow    chan struct{} // a shard sync is wanted soon (capacity 1)
	shardEnded *broadcast    // a shard finished on this worker (children may start)
	tracker    *expiryTracker
	rng        *rand.Rand

	streamARN   string     // RetrievalFanOut: the stream's ARN
	arnMu       sync.Mutex // guards consumerARN; held while registering again
	consumerARN string     // RetrievalFanOut: the registered stream consumer

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
		tracker:    newExpiryTracker(c.opts.FailoverTime),
		rng:        rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
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
	for attempt := 1; ; attempt++ {
		err := w.syncShards(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if permanent(err) {
			return err
		}
		delay := backoff(attempt, 100*time.Millisecond, w.opts.MaxRetryBackoff)
		w.log.Warn("initial shard sync failed; retrying", "attempt", attempt, "delay", delay, "error", err)
		if !sleep(ctx, delay) {
			return nil
		}
	}
	w.log.Info("worker started", "failoverTime", w.opts.FailoverTime, "leaseTakeInterval", w.opts.LeaseTakeInterval)

	// Renewal outlives ctx: leases stay held while processors shut down.
	renewCtx, stopRenew := context.WithCancel(context.WithoutCancel(ctx))
	var renewer, loops sync.WaitGroup
	renewer.Go(func() { w.renewLoop(renewCtx) })
	loops.Go(func() { w.takeLoop(ctx) })
	loops.Go(func() { w.syncLoop(ctx) })

	<-ctx.Done()
	loops.Wait()    // no new shard starts after this
	w.shards.Wait() // each shard: ShutdownRequested, then release
	stopRenew()
	renewer.Wait()
	w.m.currentLeases.Record(context.Background(), 0, w.m.workerAttrs())
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

// syncLoop runs the shard syncer every ShardSyncInterval and when asked to.
func (w *worker) syncLoop(ctx context.Context) {
	t := time.NewTicker(w.opts.ShardSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.syncNow:
		}
		if err := w.syncShards(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("shard sync failed; will retry at the next interval", "error", err)
		}
	}
}

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

func (w *worker) heldShards() []*shard {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*shard, 0, len(w.held))
	for _, s := range w.held {
		out = append(out, s)
	}
	return out
}

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
	// owner was taken: stop processing it now rather than at the next renewal.
	for _, l := range leases {
		if s := held[l.Key]; s != nil && l.Owner != w.opts.WorkerID && l.Counter > s.counter.Load() {
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
		leases:    leases,
		me:        w.opts.WorkerID,
		held:      nheld,
		busy:      func(k string) bool { return held[k] != nil },
		expired:   func(l checkpoint.Lease) bool { return w.tracker.expired(l, now) },
		maxLeases: w.opts.MaxLeasesForWorker,
		rng:       w.rng,
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
	nl, err := w.c.store.TakeLease(tctx, l, w.opts.WorkerID)
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
	w.log.Info("lease taken", "shard", l.Key, "from", from, "stolen", steal, "checkpoint", nl.Checkpoint.String())
	s := newShard(ctx, w, nl, sent)
	w.mu.Lock()
	w.held[l.Key] = s
	w.mu.Unlock()
	w.shards.Go(s.run)
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

// broadcast wakes every waiter each time it fires.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns a channel closed at the next fire.
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) fire() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// backoff returns a jittered exponential delay for retry n (1-based).
func backoff(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
