package consumer

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

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

// CheckpointAt must name a record delivered on this lease: a sequence number of another
// shard or stream that lies numerically between the last checkpoint and the last record
// delivered would otherwise be written, and after a restart GetShardIterator would fail
// on it forever.
func TestCheckpointAtRefusesPositionsThatWereNotDelivered(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	putRecords(t, fake, stream, 8, 40, "a") // interleaved over both shards
	if _, err := fake.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("other"), ShardCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	putRecords(t, fake, "other", 1, 40, "o")
	const shard0 = "shardId-000000000000"
	store := checkpoint.NewMemory()
	type call struct {
		what string
		pos  checkpoint.ExtendedSequenceNumber
		want error
	}
	results := make(chan map[string]error, 1)
	proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		first, last := in.Records[0], in.Records[len(in.Records)-1]
		lo := checkpoint.ExtendedSequenceNumber{SequenceNumber: first.SequenceNumber}
		hi := checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber}
		delivered := map[string]bool{}
		for _, r := range in.Records {
			delivered[r.SequenceNumber] = true
		}
		// between returns a sequence number of recs strictly between the batch's first
		// and last records that was not delivered.
		between := func(recs []types.Record) string {
			for _, r := range recs {
				p := checkpoint.ExtendedSequenceNumber{SequenceNumber: aws.ToString(r.SequenceNumber)}
				if p.Compare(lo) > 0 && p.Compare(hi) < 0 && !delivered[p.SequenceNumber] {
					return p.SequenceNumber
				}
			}
			return ""
		}
		otherShard := between(fake.Records(stream, "shardId-000000000001"))
		otherStream := between(fake.Records("other", shard0))
		if otherShard == "" || otherStream == "" || len(in.Records) < 3 {
			return fmt.Errorf("test set-up: no foreign sequence number inside the batch (%d records)", len(in.Records))
		}
		calls := []call{
			{"another shard's sequence number", checkpoint.ExtendedSequenceNumber{SequenceNumber: otherShard}, ErrInvalidCheckpoint},
			{"another stream's sequence number", checkpoint.ExtendedSequenceNumber{SequenceNumber: otherStream}, ErrInvalidCheckpoint},
			{"a subsequence number of a plain record", checkpoint.ExtendedSequenceNumber{SequenceNumber: in.Records[1].SequenceNumber, SubSequenceNumber: 1}, ErrInvalidCheckpoint},
			{"a delivered record", checkpoint.ExtendedSequenceNumber{SequenceNumber: in.Records[1].SequenceNumber}, nil},
			{"the last delivered record", hi, nil},
		}
		got := map[string]error{}
		for _, c := range calls {
			err := in.Checkpointer.CheckpointAt(ctx, c.pos.SequenceNumber, c.pos.SubSequenceNumber)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				got[c.what] = fmt.Errorf("CheckpointAt(%s): %v, want %v", c.pos, err, c.want)
			}
		}
		results <- got
		return nil
	}}
	newProc := func(shardID string) RecordProcessor {
		if shardID == shard0 {
			return proc
		}
		return &scriptedProcessor{}
	}
	c, err := New(fake, stream, store, newProc, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	var got map[string]error
	select {
	case got = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	stop()
	for what, err := range got {
		t.Errorf("%s: %v", what, err)
	}
}

// Past the window of remembered deliveries, CheckpointAt asks Kinesis whether the
// sequence number belongs to the shard (GetShardIterator AT_SEQUENCE_NUMBER).
func TestCheckpointAtChecksForgottenPositionsWithKinesis(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	putRecords(t, fake, stream, 8, 40, "a")
	const shard0 = "shardId-000000000000"
	store := checkpoint.NewMemory()
	results := make(chan []error, 1)
	proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		if len(in.Records) < 10 {
			return fmt.Errorf("want at least 10 records in one batch, got %d", len(in.Records))
		}
		lo := checkpoint.ExtendedSequenceNumber{SequenceNumber: in.Records[0].SequenceNumber}
		hi := checkpoint.ExtendedSequenceNumber{SequenceNumber: in.Records[4].SequenceNumber}
		var foreign string
		for _, r := range fake.Records(stream, "shardId-000000000001") {
			if p := (checkpoint.ExtendedSequenceNumber{SequenceNumber: aws.ToString(r.SequenceNumber)}); p.Compare(lo) > 0 && p.Compare(hi) < 0 {
				foreign = p.SequenceNumber
			}
		}
		if foreign == "" {
			return errors.New("test set-up: no sequence number of shard 1 between records 0 and 4 of shard 0")
		}
		results <- []error{
			in.Checkpointer.CheckpointAt(ctx, foreign, 0),                      // forgotten range, another shard's
			in.Checkpointer.CheckpointAt(ctx, in.Records[2].SequenceNumber, 0), // forgotten, but of this shard
		}
		return nil
	}}
	newProc := func(shardID string) RecordProcessor {
		if shardID == shard0 {
			return proc
		}
		return &scriptedProcessor{}
	}
	c, err := New(fake, stream, store, newProc, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	c.deliveredWindow = 4 // remember only the last 4 Kinesis records delivered
	stop := runConsumer(t, c)
	var errs []error
	select {
	case errs = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	stop()
	if !errors.Is(errs[0], ErrInvalidCheckpoint) {
		t.Errorf("CheckpointAt(another shard's sequence number, forgotten range): %v, want ErrInvalidCheckpoint", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("CheckpointAt(a forgotten record of the shard): %v, want nil", errs[1])
	}
}
