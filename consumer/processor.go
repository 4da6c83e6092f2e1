package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// RecordProcessor processes one shard for as long as this worker holds its lease. The
// consumer creates one per lease it takes (newProcessor in New) and calls its methods
// from a single goroutine, never concurrently:
//
//	Initialize, then ProcessRecords any number of times, then at most one of
//	LeaseLost, ShardEnded or ShutdownRequested.
//
// An error returned by Initialize, ProcessRecords or ShardEnded (or a panic, turned into
// a *PanicError) makes the consumer call the same method again with the same input after
// a backoff (doubling up to Options.MaxRetryBackoff), until it succeeds or the lease is
// lost or the worker shuts down: the shard never moves past records the processor did
// not accept. For ProcessRecords that is the default; Options.MaxRetries,
// MaxRecordAge, BisectOnError and OnFailure (and a returned *PartialFailure) let a
// record that can never be processed be isolated and given up instead, so the shard goes
// on (see "When a record fails" in the package documentation).
//
// A ShardEnded that returned an error and was not retried to success (because the lease
// was lost or the worker shut down meanwhile) is followed by LeaseLost or
// ShutdownRequested.
type RecordProcessor interface {
	// Initialize is called once before the first ProcessRecords, with the position the
	// shard resumes from.
	Initialize(ctx context.Context, in InitializeInput) error

	// ProcessRecords handles the next batch of the shard, in order. ctx is cancelled as
	// soon as the lease is lost or the worker shuts down: return promptly then. Checkpoint
	// with in.Checkpointer when the records are durably processed (it may also be used
	// later, from any goroutine).
	ProcessRecords(ctx context.Context, in ProcessRecordsInput) error

	// LeaseLost is called when another worker took the shard or its lease could not be
	// renewed: the processor can no longer checkpoint (ErrLeaseLost). Records since the
	// last checkpoint will be processed again by the new owner.
	LeaseLost(ctx context.Context, in LeaseLostInput)

	// ShardEnded is called after the last record of a closed shard (after a split or a
	// merge) was processed. in.Checkpointer.Checkpoint checkpoints SHARD_END; if
	// ShardEnded returns nil without doing so the consumer does it, so the shard's
	// children can start.
	ShardEnded(ctx context.Context, in ShardEndedInput) error

	// ShutdownRequested is called when Run's context is cancelled, while the lease is
	// still held: checkpoint what was processed (ctx is bounded by
	// Options.ShutdownTimeout). The lease is released afterwards so another worker
	// continues at once from the checkpoint.
	ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error
}

// InitializeInput is passed to RecordProcessor.Initialize.
type InitializeInput struct {
	// ShardID is the shard the processor is for.
	ShardID string
	// Checkpoint is the shard's checkpoint when the lease was taken: a sequence number
	// (processing resumes after it) or a sentinel (TRIM_HORIZON, LATEST, AT_TIMESTAMP).
	Checkpoint checkpoint.ExtendedSequenceNumber
}

// ProcessRecordsInput is passed to RecordProcessor.ProcessRecords.
type ProcessRecordsInput struct {
	// ShardID is the shard the records come from.
	ShardID string
	// Records are the user records of the batch in shard order, deaggregated, never
	// empty. The slice and the records' Data are not reused by the consumer and may be
	// retained.
	Records []Record
	// Checkpointer checkpoints this shard.
	Checkpointer Checkpointer
	// MillisBehindLatest is how far the batch is behind the tip of the shard, as reported
	// by GetRecords.
	MillisBehindLatest int64
	// Attempt counts the deliveries of these records, this one included: 1 the first
	// time, then the number of deliveries of the call's most delivered record (after a
	// failure, including deliveries of the halves made by Options.BisectOnError). A
	// processor may use it to decide, e.g. to return a PartialFailure or log more.
	Attempt int
}

// LeaseLostInput is passed to RecordProcessor.LeaseLost.
type LeaseLostInput struct {
	// ShardID is the shard whose lease was lost.
	ShardID string
}

// ShardEndedInput is passed to RecordProcessor.ShardEnded.
type ShardEndedInput struct {
	// ShardID is the shard that ended.
	ShardID string
	// ChildShardIDs are the shards it was split or merged into, when known.
	ChildShardIDs []string
	// Checkpointer checkpoints the shard; Checkpoint(ctx) writes SHARD_END.
	Checkpointer Checkpointer
}

// ShutdownRequestedInput is passed to RecordProcessor.ShutdownRequested.
type ShutdownRequestedInput struct {
	// ShardID is the shard being shut down.
	ShardID string
	// Checkpointer checkpoints the shard; the lease is still held.
	Checkpointer Checkpointer
}

// Record is one user record: a Kinesis record, or one sub-record of a KPL-aggregated
// Kinesis record.
type Record struct {
	// PartitionKey is the user record's partition key.
	PartitionKey string
	// ExplicitHashKey is the explicit hash key of an aggregated sub-record, if it has
	// one ("" otherwise; Kinesis does not return a plain record's explicit hash key).
	ExplicitHashKey string
	// Data is the payload.
	Data []byte
	// SequenceNumber is the sequence number of the Kinesis record.
	SequenceNumber string
	// SubSequenceNumber is the index of the sub-record in its aggregated Kinesis record;
	// 0 for a record that is not aggregated.
	SubSequenceNumber int64
	// ApproximateArrivalTimestamp is when Kinesis received the Kinesis record.
	ApproximateArrivalTimestamp time.Time
	// ShardID is the shard the record was read from.
	ShardID string
}

// Checkpointer records how far a shard has been processed. It is safe for concurrent use
// and may be used after the RecordProcessor call that received it returned; it fails with
// ErrLeaseLost once the worker no longer holds the shard's lease. Every checkpoint is a
// conditional write on the lease (fenced by its counter and owner), so a worker that lost
// the lease can never overwrite the new owner's progress.
type Checkpointer interface {
	// Checkpoint records the last record delivered to the processor so far (SHARD_END
	// inside ShardEnded). Nothing is written if that position is already checkpointed.
	Checkpoint(ctx context.Context) error
	// CheckpointAt records the given record as processed. It must name a record delivered
	// to a processor of this lease (its SequenceNumber and SubSequenceNumber), not before
	// the last checkpoint nor after the last record delivered; anything else, such as a
	// sequence number of another shard or stream, fails with ErrInvalidCheckpoint and
	// writes nothing. After a restart, processing resumes with the record after it, also
	// inside an aggregated record.
	//
	// The records delivered since the last checkpoint are remembered, up to the last
	// (2×MaxPrefetchBatches+2)×MaxRecords Kinesis records (80,000 by default); a position
	// older than those is checked with one GetShardIterator call, which needs
	// kinesis:GetShardIterator also with enhanced fan-out.
	CheckpointAt(ctx context.Context, sequenceNumber string, subSequenceNumber int64) error
}

// NewFunc adapts a function to the newProcessor argument of New, for applications that
// do not need the processor lifecycle. fn receives each batch of a shard in order; when
// it returns nil the shard is checkpointed at the batch's last record, when it returns an
// error the same batch is passed again after a backoff. At the end of a shard SHARD_END
// is checkpointed. fn's ctx is cancelled when the lease is lost or the worker shuts down.
//
// A batch is one GetRecords result deaggregated: up to Options.MaxRecords Kinesis
// records, which with KPL aggregation can be tens of thousands of user records, all
// processed again if the worker fails before the checkpoint. Options.MaxUserRecords
// bounds the records per call, and so the checkpoint granularity.
//
// A checkpoint that fails after fn accepted a batch (the worker is shutting down, so
// fn's ctx is cancelled; DynamoDB throttles) is written again at a graceful shutdown,
// while the lease is still held, unless the next batch's checkpoint covers it first; at
// worst (lease lost, crash) the batch is processed again after a failover. A graceful
// shutdown also checkpoints records given up by the failure policy after the last
// accepted batch.
func NewFunc(fn func(ctx context.Context, shardID string, records []Record) error) func(shardID string) RecordProcessor {
	return func(shardID string) RecordProcessor { return &funcProcessor{fn: fn, shardID: shardID} }
}

type funcProcessor struct {
	fn      func(ctx context.Context, shardID string, records []Record) error
	shardID string
	// owedSeq and owedSub locate the last record of the last batch fn accepted when
	// its checkpoint failed (owedSeq is empty otherwise); ShutdownRequested writes it.
	// Copies, so the batch's memory is not retained. The shard's goroutine makes every call.
	owedSeq string
	owedSub int64
}

func (p *funcProcessor) Initialize(context.Context, InitializeInput) error { return nil }

func (p *funcProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if err := p.fn(ctx, p.shardID, in.Records); err != nil {
		return err
	}
	err := in.Checkpointer.Checkpoint(ctx)
	if err == nil {
		p.owedSeq = ""
		return nil
	}
	if errors.Is(err, ErrLeaseLost) {
		return err
	}
	last := in.Records[len(in.Records)-1]
	p.owedSeq, p.owedSub = last.SequenceNumber, last.SubSequenceNumber
	return nil
}

func (p *funcProcessor) LeaseLost(context.Context, LeaseLostInput) {}

func (p *funcProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *funcProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	if p.owedSeq != "" {
		if err := in.Checkpointer.CheckpointAt(ctx, p.owedSeq, p.owedSub); err != nil {
			return err
		}
	}
	// Covers records given up after the last accepted batch (Options.OnFailure), so a
	// graceful restart does not hand them over again; nothing is written otherwise.
	return in.Checkpointer.Checkpoint(ctx)
}
