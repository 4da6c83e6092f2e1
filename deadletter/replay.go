package deadletter

import (
	"context"
	"fmt"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/producer"
)

// Replay returns a per-record handler (for consumer.NewRecordFunc) that reads the
// dead-letter stream and puts each original record back into the stream of p (a
// producer of the original stream) with its data and keys, once the bug that made it
// fail is fixed. Run it as a consumer of the dead-letter stream with its own lease
// table; its checkpoints make a replay resumable, and stopping it stops the replay.
//
// keep, when not nil, selects the envelopes to replay (for example by Reason, Stream or
// FailedAt); the others are skipped. A record of the dead-letter stream that is not an
// envelope is an error (ErrNotAnEnvelope), retried under the replaying consumer's own
// failure policy: give such records up there (MaxRetries) if the stream may hold them.
//
// Replay is at least once: a record may be put twice after a failover of the replaying
// consumer; it gets a new sequence number in the original stream.
func Replay(p Putter, keep func(Envelope) bool) func(ctx context.Context, r consumer.Record) error {
	return func(ctx context.Context, r consumer.Record) error {
		e, err := Decode(r.Data)
		if err != nil {
			return fmt.Errorf("deadletter: replaying record %s of shard %s: %w", r.SequenceNumber, r.ShardID, err)
		}
		if keep != nil && !keep(e) {
			return nil
		}
		if _, err := p.PutSync(ctx, producer.Record{PartitionKey: e.PartitionKey, ExplicitHashKey: e.ExplicitHashKey, Data: e.Data}); err != nil {
			return fmt.Errorf("deadletter: replaying record %s/%d of stream %s: %w", e.SequenceNumber, e.SubSequenceNumber, e.Stream, err)
		}
		return nil
	}
}
