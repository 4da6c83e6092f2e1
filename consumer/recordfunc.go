package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Ordering is what a per-record handler (NewRecordFunc) keeps in order when it handles
// several records of a shard at once (Options.Concurrency). The zero value is
// OrderByPartitionKey.
type Ordering int

const (
	// OrderByPartitionKey handles the records of one partition key of a shard one at a
	// time, in shard order: a record's handler starts only after the handler of the
	// previous record of the same key returned nil (or the record was given up). Records
	// of different keys run concurrently, up to Options.Concurrency, and may finish in
	// any order. The default.
	OrderByPartitionKey Ordering = iota
	// OrderByShard handles the records of a shard one at a time, in shard order, as
	// NewFunc does; Options.Concurrency is then 1 per shard (shards still run in
	// parallel).
	OrderByShard
	// OrderNone handles up to Options.Concurrency records of a shard at once with no
	// order at all, also within a partition key. Pick it for handlers whose records are
	// independent (idempotent writes keyed by something else).
	OrderNone
)

// String returns the constant's name.
func (o Ordering) String() string {
	switch o {
	case OrderByPartitionKey:
		return "OrderByPartitionKey"
	case OrderByShard:
		return "OrderByShard"
	case OrderNone:
		return "OrderNone"
	}
	return fmt.Sprintf("Ordering(%d)", int(o))
}

// DefaultCheckpointInterval is the default Options.CheckpointInterval.
const DefaultCheckpointInterval = time.Second

// resolveRecordFunc validates and fills the Options of per-record handlers.
func (o *Options) resolveRecordFunc() error {
	switch {
	case o.Concurrency < 0:
		return fmt.Errorf("%w: Concurrency %d is negative; use 0 for the default (1)", ErrInvalidOptions, o.Concurrency)
	case o.Concurrency == 0:
		o.Concurrency = 1
	}
	switch o.Ordering {
	case OrderByPartitionKey, OrderByShard, OrderNone:
	default:
		return fmt.Errorf("%w: Ordering %v is not one of OrderByPartitionKey, OrderByShard, OrderNone", ErrInvalidOptions, o.Ordering)
	}
	switch {
	case o.CheckpointInterval < 0:
		return fmt.Errorf("%w: CheckpointInterval is negative (%v); use 0 for the default", ErrInvalidOptions, o.CheckpointInterval)
	case o.CheckpointInterval == 0:
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	return nil
}

// NewRecordFunc adapts a per-record handler to the newProcessor argument of New. The
// consumer calls fn once for each user record (each sub-record of a KPL-aggregated
// record on its own), with up to Options.Concurrency records of a shard at once, in the
// order Options.Ordering keeps (by partition key by default). fn's error makes the
// record be retried after a backoff (doubling up to Options.MaxRetryBackoff) while the
// other keys go on; only the later records of its key (OrderByPartitionKey; the whole
// shard with OrderByShard) wait for it. The failure policy applies per record: after
// Options.MaxRetries retries, or once it is older than Options.MaxRecordAge (checked
// before each delivery), the record is given up and handed to Options.OnFailure; from
// then on it counts as done, so its key and the watermark go on. BisectOnError and
// PartialFailure do not apply: each record is already on its own.
//
// Batches are accepted as soon as there is room, so the shard's reader keeps fetching
// while slow keys are busy: records waiting for their key, records in flight and records
// done but not yet checkpointable are held in at most Options.MaxPrefetchBatches
// accepted batches per shard (on top of the reader's own MaxPrefetchBatches). When
// that bound is reached the next batch waits, the reader's buffer fills and the reader
// stops fetching until the oldest batch is done: a shard then holds at most
// 2×MaxPrefetchBatches+2 GetRecords results (each at most MaxRecords records, 10 MiB).
//
// Checkpoints are written at the low watermark: the last record such that it and every
// record before it in the shard are done, never past a record that is unfinished. They
// are written every Options.CheckpointInterval when the watermark moved, at a graceful
// shutdown, and SHARD_END once every record of a closed shard is done. A graceful
// shutdown waits for the accepted records (bounded by Options.ShutdownTimeout; fn's ctx
// is cancelled when four fifths of it have passed) and checkpoints, so a planned stop
// replays nothing. After a crash or a lost lease the new owner starts after the last
// checkpoint: records done above it are handled again (at least once), each key's
// records again in order.
//
// fn's ctx is cancelled when the lease is lost, and at the end of a graceful shutdown's
// wait; fn must then return promptly. It may be called from several goroutines at once
// (also for different shards), so it must be safe for concurrent use. A panic in fn is
// turned into a *PanicError and retried like an error.
//
// Metrics (see the package documentation): RecordProcessor.RecordsInFlight,
// RecordProcessor.KeysBlocked and RecordProcessor.WatermarkLag per shard, recorded every
// CheckpointInterval; failed handler calls count in RecordProcessor.Errors, deliveries
// again in RecordProcessor.Retries, given-up records in RecordsGivenUp.
//
// The options reach the processor only when New is given NewRecordFunc's result (or a
// function returning the processors it makes) directly; a processor wrapped in another
// type runs with Concurrency 1.
func NewRecordFunc(fn func(ctx context.Context, r Record) error) func(shardID string) RecordProcessor {
	return func(shardID string) RecordProcessor {
		return &recordFuncProcessor{fn: fn, shardID: shardID, cfg: defaultRecordFuncConfig()}
	}
}

// recordFuncConfig is what a per-record processor takes from the consumer's Options.
type recordFuncConfig struct {
	concurrency        int
	ordering           Ordering
	maxBatches         int
	checkpointInterval time.Duration
	maxRetryBackoff    time.Duration
	log                *slog.Logger
	inFlight           metric.Int64Gauge
	keysBlocked        metric.Int64Gauge
	watermarkLag       metric.Int64Gauge
	errors             metric.Int64Counter // RecordProcessor.Errors: failed handler calls
	retries            metric.Int64Counter // RecordProcessor.Retries: deliveries again after a failure
	attrs              metric.MeasurementOption

	policy failurePolicy
	stream string
	// giveUp hands a record given up by the policy to OnFailure (shard.giveUp); false
	// when the shard's ctx ended first: the record is then not done.
	giveUp func(FailedRecord) bool
}

func defaultRecordFuncConfig() recordFuncConfig {
	var o Options
	_ = o.resolveRecordFunc()
	o.MaxPrefetchBatches = DefaultMaxPrefetchBatches
	o.MaxRetryBackoff = DefaultMaxRetryBackoff
	o.Logger = slog.Default()
	o.MeterProvider = noop.NewMeterProvider()
	return newRecordFuncConfig(&o, metric.WithAttributes())
}

func newRecordFuncConfig(o *Options, attrs metric.MeasurementOption) recordFuncConfig {
	m := o.MeterProvider.Meter(meterName)
	c := recordFuncConfig{
		concurrency:        o.Concurrency,
		ordering:           o.Ordering,
		maxBatches:         o.MaxPrefetchBatches,
		checkpointInterval: o.CheckpointInterval,
		maxRetryBackoff:    o.MaxRetryBackoff,
		log:                o.Logger,
		attrs:              attrs,
	}
	if c.ordering == OrderByShard {
		c.concurrency = 1
	}
	// Errors creating instruments leave no-op ones: metrics never stop processing.
	noopMeter := noop.Meter{}
	gauge := func(name, unit, desc string) metric.Int64Gauge {
		g, err := m.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		if err != nil {
			g, _ = noopMeter.Int64Gauge(name)
		}
		return g
	}
	c.inFlight = gauge("RecordProcessor.RecordsInFlight", "{record}", "Records of a shard whose per-record handler (NewRecordFunc) is running.")
	c.keysBlocked = gauge("RecordProcessor.KeysBlocked", "{key}", "Partition keys of a shard with records waiting behind a running or failing record of the same key (NewRecordFunc).")
	c.watermarkLag = gauge("RecordProcessor.WatermarkLag", "{record}", "Records of a shard that are done but not yet checkpointable, because an earlier record is unfinished (NewRecordFunc).")
	c.errors, _ = noopMeter.Int64Counter("RecordProcessor.Errors")
	c.retries, _ = noopMeter.Int64Counter("RecordProcessor.Retries")
	c.policy = newFailurePolicy(o)
	c.giveUp = func(FailedRecord) bool { return true }
	return c
}

// recordFuncConfigurable is implemented by the processors of NewRecordFunc: the
// consumer hands them its options for the shard before Initialize.
type recordFuncConfigurable interface {
	configure(recordFuncConfig)
}

// configureProcessor passes the shard's options to p when p takes them.
func (s *shard) configureProcessor(p RecordProcessor) {
	if c, ok := p.(recordFuncConfigurable); ok {
		cfg := newRecordFuncConfig(s.w.opts, s.attrs)
		cfg.errors, cfg.retries = s.w.m.processorErrors, s.w.m.retries
		cfg.stream, cfg.giveUp = s.w.c.stream, s.giveUp
		c.configure(cfg)
	}
}

// recordFuncProcessor runs a per-record handler for one shard: ProcessRecords accepts
// batches into the dispatch, workers (up to the concurrency, started as records become
// ready) handle the ready records, and a loop checkpoints the watermark.
type recordFuncProcessor struct {
	fn      func(ctx context.Context, r Record) error
	shardID string
	cfg     recordFuncConfig

	mu       sync.Mutex
	wake     sync.Cond // idle workers wait here for ready records
	d        *dispatch
	cp       Checkpointer
	started  bool
	stopping bool
	workers  int // worker goroutines running
	idle     int // workers waiting on wake and not yet signalled

	space  chan struct{} // a batch was released (cap 1)
	idleCh chan struct{} // every accepted record is done (cap 1)
	stopCh chan struct{} // closed by stop: the checkpoint loop ends

	ctx        context.Context // fn's context
	cancel     context.CancelFunc
	stopOnLoss func() bool // unregisters the lease-loss hook
	wg         sync.WaitGroup

	cpMu    sync.Mutex // serialises checkpoint writes, so they never go backwards
	cpMoves uint64     // watermark moves at the last checkpoint written
}

func (p *recordFuncProcessor) configure(c recordFuncConfig) { p.cfg = c }

func (p *recordFuncProcessor) Initialize(context.Context, InitializeInput) error { return nil }

// startLocked (p.mu held) sets up the dispatch and the checkpoint loop at the first batch. ctx is the
// shard's context: its cancellation for a lost lease cancels fn's context at once.
func (p *recordFuncProcessor) startLocked(ctx context.Context) {
	if p.started {
		return
	}
	p.started = true
	p.wake.L = &p.mu
	p.d = newDispatch(p.cfg.ordering, p.cfg.maxBatches)
	p.space = make(chan struct{}, 1)
	p.idleCh = make(chan struct{}, 1)
	p.stopCh = make(chan struct{})
	p.ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	p.stopOnLoss = context.AfterFunc(ctx, func() {
		if errors.Is(context.Cause(ctx), ErrLeaseLost) {
			p.cancel()
		}
	})
	p.wg.Go(p.checkpointLoop)
}

// ProcessRecords accepts the batch as soon as the processor holds fewer than
// Options.MaxPrefetchBatches unfinished batches, and returns: the records are handled
// in the background.
func (p *recordFuncProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if len(in.Records) == 0 {
		return nil
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return fmt.Errorf("consumer: shard %s: the per-record processor was stopped", p.shardID)
	}
	p.startLocked(ctx)
	for p.d.wm.full() {
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.space:
		}
		p.mu.Lock()
	}
	p.cp = in.Checkpointer
	n := p.d.add(in.Records)
	p.dispatchLocked(n)
	p.mu.Unlock()
	return nil
}

// dispatchLocked wakes idle workers or starts new ones for n records that became ready.
func (p *recordFuncProcessor) dispatchLocked(n int) {
	for ; n > 0 && p.idle > 0; n-- {
		p.idle--
		p.wake.Signal()
	}
	for ; n > 0 && p.workers < p.cfg.concurrency; n-- {
		p.workers++
		p.wg.Go(p.work)
	}
}

// work handles ready records until the processor stops.
func (p *recordFuncProcessor) work() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		r, ok := p.d.take()
		if !ok {
			if p.stopping {
				p.workers--
				return
			}
			p.idle++
			p.wake.Wait()
			continue
		}
		p.mu.Unlock()
		done := p.handle(r.record())
		p.mu.Lock()
		if !done {
			p.d.abandon(r)
			continue
		}
		if p.d.finish(r) {
			notify(p.space)
		}
		if p.d.idle() {
			notify(p.idleCh)
		}
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// handle calls fn until it succeeds or the failure policy gives the record up (and
// OnFailure took it); false when fn's context ended first: the record is not done.
func (p *recordFuncProcessor) handle(r *Record) bool {
	var (
		lastErr error
		done    bool // handled, or given up and taken by OnFailure
	)
	rt := retrier{
		base: recordRetryBase, max: p.cfg.maxRetryBackoff,
		permanent: func(err error) bool { return err == errRecordSettled },
		onRetry: func(attempt int, delay time.Duration, err error) {
			p.cfg.log.Error("record handler failed; retrying the record (later records of its key wait)", "shard", p.shardID,
				"sequenceNumber", r.SequenceNumber, "subSequenceNumber", r.SubSequenceNumber, "partitionKey", r.PartitionKey,
				"attempt", attempt, "delay", delay, "error", err)
		},
	}
	_ = rt.do(p.ctx, func(attempt int) error {
		if attempt > 1 {
			p.cfg.retries.Add(context.Background(), 1, p.cfg.attrs)
		}
		if err := p.ctx.Err(); err != nil {
			return err
		}
		failures := attempt - 1
		if p.cfg.policy.maxAge > 0 {
			if now := time.Now(); p.cfg.policy.tooOld(*r, now) {
				err := lastErr
				if err == nil {
					err = p.cfg.policy.tooOldError(*r, now)
				}
				done = p.cfg.giveUp(FailedRecord{Record: *r, StreamName: p.cfg.stream, ShardID: p.shardID, Attempts: failures, Err: err, Reason: RecordTooOld})
				return errRecordSettled
			}
		}
		err := p.call(r)
		if err == nil {
			done = true
			return nil
		}
		if p.ctx.Err() != nil {
			return err
		}
		lastErr = err
		p.cfg.errors.Add(context.Background(), 1, p.cfg.attrs)
		if reason, giveUp := p.cfg.policy.decide(*r, attempt, time.Now()); giveUp {
			done = p.cfg.giveUp(FailedRecord{Record: *r, StreamName: p.cfg.stream, ShardID: p.shardID, Attempts: attempt, Err: err, Reason: reason})
			return errRecordSettled
		}
		return err
	})
	return done
}

// recordRetryBase is the first backoff delay after a record handler failed.
const recordRetryBase = 100 * time.Millisecond

// errRecordSettled ends the retries of a record the failure policy gave up.
var errRecordSettled = errors.New("record given up")

// call runs fn, turning a panic into a *PanicError.
func (p *recordFuncProcessor) call(r *Record) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &PanicError{Method: "ProcessRecords (record handler)", Value: v, Stack: debug.Stack()}
		}
	}()
	return p.fn(p.ctx, *r)
}

// checkpointLoop checkpoints the watermark every CheckpointInterval and records the
// shard's gauges.
func (p *recordFuncProcessor) checkpointLoop() {
	t := time.NewTicker(p.cfg.checkpointInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stopCh:
			return
		case <-t.C:
		}
		p.recordGauges()
		if err := p.checkpointWatermark(p.ctx); err != nil && p.ctx.Err() == nil && !errors.Is(err, ErrLeaseLost) {
			p.cfg.log.Warn("checkpointing the watermark failed; retrying at the next interval", "shard", p.shardID, "error", err)
		}
	}
}

func (p *recordFuncProcessor) recordGauges() {
	p.mu.Lock()
	running, blocked, lag := p.d.running, p.d.blocked, p.d.wm.doneAbove
	p.mu.Unlock()
	ctx := context.Background()
	p.cfg.inFlight.Record(ctx, int64(running), p.cfg.attrs)
	p.cfg.keysBlocked.Record(ctx, int64(blocked), p.cfg.attrs)
	p.cfg.watermarkLag.Record(ctx, int64(lag), p.cfg.attrs)
}

// checkpointWatermark writes the watermark if it moved since the last checkpoint.
func (p *recordFuncProcessor) checkpointWatermark(ctx context.Context) error {
	p.cpMu.Lock()
	defer p.cpMu.Unlock()
	p.mu.Lock()
	seq, sub, ok := p.d.wm.position()
	moves, cp := p.d.wm.moves, p.cp
	p.mu.Unlock()
	if !ok || moves == p.cpMoves || cp == nil {
		return nil
	}
	if err := cp.CheckpointAt(ctx, seq, sub); err != nil {
		return err
	}
	p.cpMoves = moves
	return nil
}

// waitIdle waits until every accepted record is done; false when ctx ended first.
func (p *recordFuncProcessor) waitIdle(ctx context.Context) bool {
	for {
		p.mu.Lock()
		idle := p.d.idle()
		p.mu.Unlock()
		if idle {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-p.idleCh:
		}
	}
}

// stop cancels fn's context, ends the workers and the checkpoint loop and waits for
// them, bounded by ctx. It reports the records left unfinished.
func (p *recordFuncProcessor) stop(ctx context.Context) (unfinished int) {
	p.mu.Lock()
	if !p.started || p.stopping {
		p.stopping = true
		p.mu.Unlock()
		return 0
	}
	p.stopping = true
	p.idle = 0
	p.wake.Broadcast()
	p.mu.Unlock()
	p.cancel()
	p.stopOnLoss()
	close(p.stopCh)
	exited := make(chan struct{})
	go func() {
		p.wg.Wait()
		close(exited)
	}()
	select {
	case <-exited:
	case <-ctx.Done():
		p.cfg.log.Error("record handlers did not return after their context was cancelled; they are left running", "shard", p.shardID)
	}
	p.recordGauges()
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d.wm.held - p.d.wm.doneAbove
}

// LeaseLost stops the handlers at once: the new owner handles the unfinished records.
func (p *recordFuncProcessor) LeaseLost(ctx context.Context, _ LeaseLostInput) {
	p.stop(ctx)
}

// ShardEnded waits until every record of the shard is done, then checkpoints SHARD_END.
func (p *recordFuncProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	p.mu.Lock()
	started := p.started
	p.mu.Unlock()
	if started {
		if !p.waitIdle(ctx) {
			return fmt.Errorf("consumer: shard %s ended, but records are still being handled: %w", p.shardID, ctx.Err())
		}
		p.stop(ctx)
	}
	return in.Checkpointer.Checkpoint(ctx)
}

// ShutdownRequested waits for the accepted records, for four fifths of ctx's time, then
// stops the handlers and checkpoints the watermark.
func (p *recordFuncProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	p.mu.Lock()
	started := p.started
	if started && p.cp == nil {
		p.cp = in.Checkpointer
	}
	p.mu.Unlock()
	if !started {
		return nil
	}
	wctx := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)*4/5))
		defer cancel()
	}
	p.waitIdle(wctx)
	if n := p.stop(ctx); n > 0 {
		p.cfg.log.Warn("shutdown: records still unfinished after the wait; the next owner handles them (and the done ones after them) again",
			"shard", p.shardID, "unfinished", n)
	}
	return p.checkpointWatermark(ctx)
}
