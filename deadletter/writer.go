package deadletter

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/producer"
)

// Putter is the part of *producer.Producer this package uses.
type Putter interface {
	PutSync(ctx context.Context, r producer.Record) (producer.Result, error)
}

var _ Putter = (*producer.Producer)(nil)

// New returns a consumer.Options.OnFailure that writes each given-up record, as an
// Envelope in JSON, to the stream of p (a producer of the dead-letter stream), with the
// record's own partition key, so the dead letters of a key keep their order. It returns
// when the envelope is written: an error (the dead-letter stream throttles, does not
// exist, the envelope is too large for it) makes the consumer hand the same record over
// again with backoff while its shard waits, so no record is lost; the error says what
// to fix.
//
// The envelope holds the data in base64, about 4/3 of its size plus 500 bytes: records
// larger than about 750 KiB do not fit a dead-letter stream with the default 1 MiB
// record limit; raise that stream's maximum record size for such records.
func New(p Putter) func(ctx context.Context, f consumer.FailedRecord) error {
	return func(ctx context.Context, f consumer.FailedRecord) error {
		body, err := json.Marshal(NewEnvelope(f, time.Now()))
		if err != nil {
			return fmt.Errorf("deadletter: encoding the envelope of %s/%d: %w", f.Record.SequenceNumber, f.Record.SubSequenceNumber, err)
		}
		if _, err := p.PutSync(ctx, producer.Record{PartitionKey: f.Record.PartitionKey, Data: body}); err != nil {
			return fmt.Errorf("deadletter: writing record %s/%d of shard %s to the dead-letter stream: %w",
				f.Record.SequenceNumber, f.Record.SubSequenceNumber, f.ShardID, err)
		}
		return nil
	}
}
