package sink

import (
	"context"

	"github.com/kinesis-go/kinesis/consumer"
)

// New returns the newProcessor argument of consumer.New: a processor per shard that
// buffers the shard's records, writes them as objects to dest and checkpoints the shard
// after the objects are durable. See the package documentation for names, batches and
// guarantees.
//
// Options that are invalid make every processor's Initialize fail with an error matching
// ErrInvalidOptions (the consumer logs it and retries, so the shards make no progress);
// call Validate with the same arguments first to fail at start-up instead.
func New(dest Destination, optFns ...func(*Options)) func(shardID string) consumer.RecordProcessor {
	s, err := newSink(dest, optFns)
	return func(shardID string) consumer.RecordProcessor {
		if err != nil {
			return failedProcessor{err: err}
		}
		return s.newProcessor(shardID)
	}
}

// Validate returns the error New's processors would fail with, or nil when dest and the
// options are usable.
func Validate(dest Destination, optFns ...func(*Options)) error {
	_, err := newSink(dest, optFns)
	return err
}

// sink is what the processors of one New share.
type sink struct {
	cfg  *config
	dest Destination
	m    *metrics
}

func newSink(dest Destination, optFns []func(*Options)) (*sink, error) {
	cfg, err := resolve(optFns)
	if err != nil {
		return nil, err
	}
	if dest == nil {
		return nil, ErrInvalidOptions
	}
	m, err := newMetrics(cfg.MeterProvider)
	if err != nil {
		return nil, err
	}
	return &sink{cfg: cfg, dest: dest, m: m}, nil
}

// failedProcessor is what New returns for invalid options.
type failedProcessor struct{ err error }

func (f failedProcessor) Initialize(context.Context, consumer.InitializeInput) error { return f.err }
func (f failedProcessor) ProcessRecords(context.Context, consumer.ProcessRecordsInput) error {
	return f.err
}
func (f failedProcessor) LeaseLost(context.Context, consumer.LeaseLostInput) {}
func (f failedProcessor) ShardEnded(context.Context, consumer.ShardEndedInput) error {
	return f.err
}
func (f failedProcessor) ShutdownRequested(context.Context, consumer.ShutdownRequestedInput) error {
	return nil
}
