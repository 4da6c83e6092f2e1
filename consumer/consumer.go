package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

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
	fanOut       FanOutClient // set for RetrievalFanOut
}

// New returns a Consumer of streamName that keeps leases and checkpoints in store and
// processes each shard it holds with a RecordProcessor from newProcessor. It validates
// its arguments and options (errors match ErrInvalidOptions) and does no I/O.
func New(client Client, streamName string, store checkpoint.Store, newProcessor func(shardID string) RecordProcessor, optFns ...func(*Options)) (*Consumer, error) {
	// Every problem is reported at once (errors.Join), each matching ErrInvalidOptions.
	var errs []error
	for _, bad := range []struct {
		when bool
		what string
	}{
		{client == nil, "the Kinesis client is nil"},
		{streamName == "", "the stream name is empty"},
		{store == nil, "the lease store is nil; use checkpoint.NewDynamoDB (or checkpoint.NewMemory for one process)"},
		{newProcessor == nil, "newProcessor is nil; use NewFunc for a plain function"},
	} {
		if bad.when {
			errs = append(errs, fmt.Errorf("%w: %s", ErrInvalidOptions, bad.what))
		}
	}
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if err := o.resolve(streamName); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
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
		fanOut:       fc,
	}
	return c, nil
}

// WorkerID returns the id this worker writes as the owner of its leases.
func (c *Consumer) WorkerID() string { return c.opts.WorkerID }

// Run processes the stream until ctx is cancelled, then shuts down gracefully and
// returns nil: reading stops, each processor's ShutdownRequested is called (with a
// context bounded by Options.ShutdownTimeout) while its lease is still held, then every
// held lease is released so other workers take the shards at once. Nothing Run started
// is left running when it returns, with one exception: a processor that ignores its ctx
// and has not returned twice ShutdownTimeout after ctx ended. Run then releases its lease,
// returns a *ShutdownTimeoutError naming the shards (errors.Is ErrShutdownTimeout) and
// leaves that goroutine to end when the processor returns (see Options.ShutdownTimeout).
//
// Run returns an error only when it cannot start: the stream does not exist or may not
// be read, the lease table is missing or not accessible (errors match ErrStreamNotFound,
// ErrAccessDenied or the store's errors; the stream is checked first, so a missing
// stream creates no table). Failures while running (throttling, network errors,
// processor errors) are logged and retried.
func (c *Consumer) Run(ctx context.Context) error {
	return c.run(ctx, deliveredWindow(&c.opts))
}

// run is Run with the number of delivered Kinesis records each shard remembers for
// CheckpointAt (deliveredWindow of the options; tests pass a smaller one).
func (c *Consumer) run(ctx context.Context, window int) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	if ctx.Err() != nil {
		return nil
	}
	// The stream first: a mistyped stream name must not leave a new, orphan lease table.
	sum, err := c.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(c.stream)})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return c.kinesisError("kinesis:DescribeStreamSummary", err)
	}
	if et, ok := c.store.(tableEnsurer); ok {
		if err := et.EnsureTable(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("consumer: lease table: %w", err)
		}
	}
	w := newWorker(c)
	w.deliveredWindow = window
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
