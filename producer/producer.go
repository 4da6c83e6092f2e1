package producer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/aggregation"
)

// Client is the part of *kinesis.Client the producer uses; *kinesis.Client satisfies
// it. The producer owns retries: it calls PutRecords, ListShards and
// DescribeStreamSummary with the SDK retryer turned off (aws.NopRetryer), so that the
// two layers do not multiply attempts. The producer reuses the Data buffers of the
// PutRecords entries once the call has returned: an implementation (a test fake, say)
// must copy what it keeps.
type Client interface {
	PutRecords(ctx context.Context, params *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, params *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	DescribeStreamSummary(ctx context.Context, params *kinesis.DescribeStreamSummaryInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

// Producer writes user records to one Kinesis data stream. Create it with New; it is
// safe for concurrent use. See the package documentation for the pipeline.
type Producer struct {
	client Client
	stream string
	opts   Options
	log    *slog.Logger
	base   time.Time // p.now() is nanoseconds since base (monotonic)

	linger int64 // RecordMaxBufferedTime in ns
	ttl    int64 // RecordTTL in ns

	// Shard map: swapped atomically, read by every Put.
	smap      atomic.Pointer[shardMap]
	mapMu     sync.Mutex
	registry  map[string]*shard // every shard ever mapped, guarded by mapMu
	parked    []parkedKrec      // written to an unexpected shard, guarded by mapMu
	refreshCh chan struct{}     // asks the mapper for a refresh (capacity 1)
	streamARN atomic.Pointer[string]

	// maxRecord is the stream's max record size, 0 until DescribeStreamSummary
	// answered (or failed: then 1 MiB); summaryDone is closed then.
	maxRecord   atomic.Int64
	summaryDone chan struct{}

	budget   *budget
	epochs   *epochs
	flushing atomic.Int32 // Flush calls in progress: send everything at once
	inflight atomic.Int32 // PutRecords calls in flight
	aborting atomic.Bool  // Close's context ended: fail everything
	abortErr error        // set before aborting
	closing  chan struct{}
	closeMu  sync.Mutex
	closed   bool
	closeRes chan struct{} // closed when Close has finished

	router *router
	enc    *encodeQueue
	disp   *dispatcher
	deliv  *deliverer

	runCtx    context.Context // cancelled when the producer stops (or aborts)
	cancelRun context.CancelFunc
	stop      chan struct{}
	wg        sync.WaitGroup

	krecs   freeList[*krec]
	bufs    freeList[*aggBuf]
	data    freeList[*[]byte] // encodings of aggregates, AggregationMaxSize each
	urecs   urecSlices
	keys    *keyCache
	metrics *metrics
	stats   counters

	// Rate-limited logs: failed records (every failure path), retried calls, failed
	// shard map loads.
	failLog, retryLog, mapLog *rateLog
}

// New returns a Producer for streamName that sends through client. It validates the
// options (errors wrap ErrInvalidOptions) and starts the pipeline's goroutines; it
// does not call Kinesis. The shard map (ListShards) and the stream's max record size
// (DescribeStreamSummary) are loaded in the background, each call bounded by
// RequestTimeout and retried with backoff; records put meanwhile wait in the buffer
// and are aggregated for their shards once the map arrives (subject to RecordTTL).
// Call Close to flush and stop.
func New(client Client, streamName string, optFns ...func(*Options)) (*Producer, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil Client", ErrInvalidOptions)
	}
	if streamName == "" {
		return nil, fmt.Errorf("%w: empty stream name", ErrInvalidOptions)
	}
	var opts Options
	for _, fn := range optFns {
		fn(&opts)
	}
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	p := &Producer{
		client:      client,
		stream:      streamName,
		opts:        opts,
		log:         opts.Logger.With("stream", streamName),
		base:        time.Now(),
		linger:      int64(opts.RecordMaxBufferedTime),
		ttl:         int64(opts.RecordTTL),
		registry:    make(map[string]*shard),
		refreshCh:   make(chan struct{}, 1),
		summaryDone: make(chan struct{}),
		budget:      newBudget(int64(opts.MaxBufferedRecords), opts.MaxBufferedBytes),
		epochs:      newEpochs(),
		closing:     make(chan struct{}),
		closeRes:    make(chan struct{}),
		stop:        make(chan struct{}),
	}
	p.keys = newKeyCache()
	p.failLog = newRateLog(p.log, p.now, slog.LevelError, "kinesis producer: records failed", "records")
	p.retryLog = newRateLog(p.log, p.now, slog.LevelWarn, "kinesis producer: PutRecords failed; retrying its Kinesis records", "records")
	p.mapLog = newRateLog(p.log, p.now, slog.LevelWarn, "kinesis producer: listing the shards failed; retrying with backoff", "failures")
	m, err := newMetrics(p)
	if err != nil {
		return nil, err
	}
	p.metrics = m
	p.runCtx, p.cancelRun = context.WithCancel(context.Background())
	p.router = newRouter(p)
	p.budget.full = func() {
		p.router.kickBlocked()
		p.disp.kick()
	}
	p.enc = newEncodeQueue()
	p.disp = newDispatcher(p)
	p.deliv = newDeliverer(p)

	encoders := min(runtime.GOMAXPROCS(0), 4)
	p.wg.Add(4 + encoders)
	go p.runMapper()
	go p.router.run()
	go p.disp.run()
	go p.deliv.run()
	for range encoders {
		go p.runEncoder()
	}
	return p, nil
}

// stalled reports whether a Put waits for room while no call is in flight: then no
// record can join an aggregate or a batch until the pipeline sends what it holds.
func (p *Producer) stalled() bool {
	return p.budget.waiters.Load() > 0 && p.inflight.Load() == 0
}

// now is the producer's one clock: monotonic nanoseconds since New, never 0 (0 marks
// an arrival not taken yet). Every reading of the time in the producer goes through
// it (arrivals, linger deadlines, RecordTTL expiries, rate limiters, backoffs, call
// durations, log pacing); an int64 rather than a time.Time because the hot path
// stores and compares it per record. Waits use runtime timers (time.NewTimer,
// context.WithTimeout), which run on the same monotonic clock as time.Since. Inside
// a testing/synctest bubble both are the bubble's fake clock, so the tests assert
// exact times.
func (p *Producer) now() int64 { return int64(time.Since(p.base)) + 1 }

// Put buffers r for sending and returns; done is called exactly once with the
// record's result, from the producer's callback goroutine (see the package
// documentation: callbacks run serially and must not block, nor call Put, PutSync,
// Flush or Close). done may be nil.
//
// Put blocks only while the buffer is full (Options.MaxBufferedRecords and
// MaxBufferedBytes), while the goroutine that routes records to shards is more than
// 8,192 records behind (a few milliseconds of its work: Put then waits for it rather
// than queue a copy of every record), or, for a record above 1 MiB, until the stream's
// max record size is known. It returns an error, and done is not called, when r is invalid (wrapping
// ErrInvalidRecord), after Close (ErrClosed), or when ctx ends while it waits (ctx's
// error); nothing is buffered then.
func (p *Producer) Put(ctx context.Context, r Record, done func(Result, error)) error {
	if p.epochs.cur.Load().closed {
		return ErrClosed
	}
	u := urec{rec: r, done: done}
	if err := p.validate(ctx, &u); err != nil {
		return err
	}
	if err := p.router.waitRoom(ctx, p.closing); err != nil {
		return err
	}
	charge := u.charge()
	if err := p.budget.acquire(ctx, charge, p.closing); err != nil {
		return err
	}
	ep := p.epochs.enter()
	if ep == nil {
		p.budget.release(1, charge)
		return ErrClosed
	}
	u.ep = ep
	p.router.push(&u)
	return nil
}

// PutSync puts r and waits for its result. If ctx ends first it returns ctx's error;
// the record may still be written later. It waits up to RecordMaxBufferedTime for
// other records to share the request; call Flush from another goroutine to cut that.
func (p *Producer) PutSync(ctx context.Context, r Record) (Result, error) {
	type outcome struct {
		res Result
		err error
	}
	ch := make(chan outcome, 1)
	if err := p.Put(ctx, r, func(res Result, err error) { ch <- outcome{res, err} }); err != nil {
		return Result{}, err
	}
	select {
	case o := <-ch:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// validate checks u's record against what Kinesis accepts and computes its hash key
// (the MD5 of the partition key, unless an explicit hash key is given): done here, it
// runs in parallel when several goroutines put.
func (p *Producer) validate(ctx context.Context, u *urec) error {
	r := &u.rec
	pk := r.PartitionKey
	switch {
	case pk == "":
		return &InvalidRecordError{Field: "PartitionKey", Reason: "empty; it must have 1 to 256 Unicode characters"}
	case len(pk) > maxPartitionKeyLen && utf8.RuneCountInString(pk) > maxPartitionKeyLen:
		return &InvalidRecordError{Field: "PartitionKey",
			Reason: fmt.Sprintf("%d characters; at most %d are allowed", utf8.RuneCountInString(pk), maxPartitionKeyLen)}
	case !utf8.ValidString(pk):
		// The SDK would replace invalid bytes, and Kinesis hash another key than the
		// one the producer predicts the shard with.
		return &InvalidRecordError{Field: "PartitionKey", Reason: "not valid UTF-8"}
	}
	if r.Data == nil {
		r.Data = noData // Kinesis refuses a missing Data blob, not an empty one
	}
	if size := len(r.Data) + len(pk); size > defaultMaxRecord {
		limit, err := p.maxRecordSize(ctx)
		if err != nil {
			return err
		}
		if int64(size) > limit {
			return &InvalidRecordError{Field: "Data",
				Reason: fmt.Sprintf("data plus partition key is %d bytes; the stream's max record size is %d bytes", size, limit)}
		}
	}
	if r.ExplicitHashKey != "" {
		h, err := aggregation.ParseHash128(r.ExplicitHashKey)
		if err != nil {
			return &InvalidRecordError{Field: "ExplicitHashKey", Reason: "must be a decimal integer in 0..2^128-1", Err: err}
		}
		u.hash, u.hashed = h, true
		return nil
	}
	u.hash, u.hashed = p.keys.hash(pk), true
	return nil
}

var noData = []byte{}

// maxRecordSize waits for the first DescribeStreamSummary answer.
func (p *Producer) maxRecordSize(ctx context.Context) (int64, error) {
	select {
	case <-p.summaryDone:
		return p.maxRecord.Load(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-p.closing:
		return 0, ErrClosed
	}
}

// Flush sends everything buffered at once (partial aggregates and requests, without
// waiting for RecordMaxBufferedTime; rate limits and retry backoff still apply) and
// waits until every record put before the call has its result delivered (its callback
// returned), or ctx ends. Records put during the Flush are sent at once too. It returns
// ErrClosed after Close.
func (p *Producer) Flush(ctx context.Context) error {
	eps := p.epochs.seal(false)
	if eps == nil {
		return ErrClosed
	}
	p.flushing.Add(1)
	defer p.flushing.Add(-1)
	p.router.flushAll()
	p.disp.kick()
	return waitEpochs(ctx, eps)
}

// Close flushes (see Flush) and stops the producer: Put then fails with ErrClosed. If
// ctx ends before every record has its result, the records not written yet fail with
// an error wrapping ErrClosed (each still gets exactly one result; one already sent may
// be written anyway), and Close returns ctx's error. Close always waits for the
// producer's goroutines to stop, including the callbacks still running. Calling it
// again waits for the first call and returns nil.
func (p *Producer) Close(ctx context.Context) error {
	p.closeMu.Lock()
	if p.closed {
		p.closeMu.Unlock()
		<-p.closeRes
		return nil
	}
	p.closed = true
	p.closeMu.Unlock()
	defer close(p.closeRes)

	eps := p.epochs.seal(true)
	close(p.closing) // wakes Puts blocked on the buffer
	p.flushing.Add(1)
	p.router.flushAll()
	p.disp.kick()
	err := waitEpochs(ctx, eps)
	if err != nil {
		p.abort(fmt.Errorf("%w: Close returned before the record was written: %w", ErrClosed, err))
		_ = waitEpochs(context.Background(), eps)
	}
	close(p.stop)
	p.cancelRun()
	p.enc.stop()
	p.disp.kick()
	p.deliv.kick()
	p.wg.Wait()
	p.failLog.close()
	p.retryLog.close()
	p.mapLog.close()
	p.metrics.close()
	return err
}

// abort fails every record the pipeline holds with err (wrapping ErrClosed).
func (p *Producer) abort(err error) {
	p.abortErr = err
	p.aborting.Store(true)
	p.cancelRun() // in-flight PutRecords calls end; their records fail
	// Records parked for a shard map refresh; the router fails what it holds.
	p.mapMu.Lock()
	parked := p.parked
	p.parked = nil
	p.mapMu.Unlock()
	for _, pk := range parked {
		p.fail(pk.k, err)
	}
	p.router.flushAll()
	p.enc.kick()
	p.disp.kick()
}
