package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kinesis-go/kinesis/checkpoint"
)

func TestCheckpointAtAcceptsOnlyPositionsBetweenLastCheckpointAndLastDelivered(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	putRecords(t, fake, stream, 1, 10, "a")
	store := checkpoint.NewMemory()
	results := make(chan []error, 1)
	proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		if len(in.Records) != 10 {
			return fmt.Errorf("want the 10 records in one batch, got %d", len(in.Records))
		}
		cp := in.Checkpointer
		r3, r5, last := in.Records[3], in.Records[5], in.Records[9]
		beyond := checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: 1}
		results <- []error{
			cp.CheckpointAt(ctx, beyond.SequenceNumber, beyond.SubSequenceNumber), // after the last delivered
			cp.CheckpointAt(ctx, "not-a-number", 0),
			cp.CheckpointAt(ctx, checkpoint.TrimHorizon, 0),
			cp.CheckpointAt(ctx, checkpoint.ShardEnd, 0), // the shard has not ended
			cp.CheckpointAt(ctx, r5.SequenceNumber, 0),   // ok
			cp.CheckpointAt(ctx, r3.SequenceNumber, 0),   // before the last checkpoint
			cp.CheckpointAt(ctx, r5.SequenceNumber, 0),   // same again: nothing to do
			cp.Checkpoint(ctx), // the last record
		}
		return nil
	}}
	c, err := New(fake, stream, store, func(string) RecordProcessor { return proc }, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	var errs []error
	select {
	case errs = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	stop()
	for i, want := range []error{ErrInvalidCheckpoint, ErrInvalidCheckpoint, ErrInvalidCheckpoint, ErrInvalidCheckpoint, nil, ErrInvalidCheckpoint, nil, nil} {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("call %d: got %v, want %v", i, errs[i], want)
		}
	}
	l, err := store.GetLease(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	recs := fake.Records(stream, "shardId-000000000000")
	if want := aws.ToString(recs[9].SequenceNumber); l.Checkpoint.SequenceNumber != want {
		t.Errorf("checkpoint %s, want the last record %s", l.Checkpoint, want)
	}
}
