package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
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

// onFirstBatch runs a consumer of the stream whose processor of shard calls check with
// its first batch, and returns what check returned (a set-up failure as an
// error). window > 0 lowers how many delivered Kinesis records a shard remembers.
func onFirstBatch(t *testing.T, client Client, stream, shard string, opts []func(*Options), window int, check func(ctx context.Context, in ProcessRecordsInput) ([]error, error)) []error {
	t.Helper()
	results := make(chan []error, 1)
	var once sync.Once
	proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		errs, err := check(ctx, in)
		if err != nil {
			errs = []error{fmt.Errorf("test set-up: %w", err)}
		}
		once.Do(func() { results <- errs })
		return nil
	}}
	newProc := func(shardID string) RecordProcessor {
		if shardID == shard {
			return proc
		}
		return &scriptedProcessor{}
	}
	c, err := New(client, stream, checkpoint.NewMemory(), newProc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	run := c.Run
	if window > 0 {
		run = func(ctx context.Context) error { return c.run(ctx, window) }
	}
	stop := runUntilStopped(t, run)
	defer stop()
	select {
	case errs := <-results:
		return errs
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
		return nil
	}
}

// sequenceBetween returns the sequence number of a record of recs strictly between lo
// and hi that is not in skip, or "".
func sequenceBetween(recs []types.Record, lo, hi string, skip []Record) string {
	l, h := checkpoint.ExtendedSequenceNumber{SequenceNumber: lo}, checkpoint.ExtendedSequenceNumber{SequenceNumber: hi}
	for _, r := range recs {
		p := checkpoint.ExtendedSequenceNumber{SequenceNumber: aws.ToString(r.SequenceNumber)}
		if p.Compare(l) > 0 && p.Compare(h) < 0 && !slices.ContainsFunc(skip, func(d Record) bool { return d.SequenceNumber == p.SequenceNumber }) {
			return p.SequenceNumber
		}
	}
	return ""
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
	whats := []string{"another shard's sequence number", "another stream's sequence number", "a subsequence number of a plain record", "a delivered record", "the last delivered record"}
	wants := []error{ErrInvalidCheckpoint, ErrInvalidCheckpoint, ErrInvalidCheckpoint, nil, nil}
	errs := onFirstBatch(t, fake, stream, "shardId-000000000000", fastOptions(t, "w1"), 0, func(ctx context.Context, in ProcessRecordsInput) ([]error, error) {
		first, last := in.Records[0].SequenceNumber, in.Records[len(in.Records)-1].SequenceNumber
		otherShard := sequenceBetween(fake.Records(stream, "shardId-000000000001"), first, last, in.Records)
		otherStream := sequenceBetween(fake.Records("other", "shardId-000000000000"), first, last, in.Records)
		if otherShard == "" || otherStream == "" || len(in.Records) < 3 {
			return nil, fmt.Errorf("no foreign sequence number inside the batch (%d records)", len(in.Records))
		}
		cp := in.Checkpointer
		return []error{
			cp.CheckpointAt(ctx, otherShard, 0),
			cp.CheckpointAt(ctx, otherStream, 0),
			cp.CheckpointAt(ctx, in.Records[1].SequenceNumber, 1),
			cp.CheckpointAt(ctx, in.Records[1].SequenceNumber, 0),
			cp.CheckpointAt(ctx, last, 0),
		}, nil
	})
	if len(errs) != len(wants) {
		t.Fatalf("%v", errs)
	}
	for i, want := range wants {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("CheckpointAt(%s): %v, want %v", whats[i], errs[i], want)
		}
	}
}

// Past the window of remembered deliveries, CheckpointAt asks Kinesis whether the
// sequence number belongs to the shard (GetShardIterator AT_SEQUENCE_NUMBER).
func TestCheckpointAtChecksForgottenPositionsWithKinesis(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	putRecords(t, fake, stream, 8, 40, "a")
	checkForgottenPositions(t, fake, stream, fastOptions(t, "w1"), "shardId-000000000000", fake.Records(stream, "shardId-000000000001"))
}

// The same against kinesis-mock, whose GetShardIterator must refuse another shard's
// sequence number too. Its sequence numbers of shard 0 are all below those of shard 1, so
// after a start at TRIM_HORIZON any of them passes the range check on shard 1.
func TestCheckpointAtChecksForgottenPositionsWithTheEmulator(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 2)
	kc := env.Kinesis()
	putRecords(t, kc, stream, 8, 40, "a")
	ctx := context.Background()
	it, err := kc.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	checkForgottenPositions(t, kc, stream, testOptions(t, "w1"), "shardId-000000000001", out.Records)
}

// checkForgottenPositions checks, with a delivered log of 4 Kinesis records, that a
// forgotten position of shard is accepted and one of other (records of another shard)
// is refused.
func checkForgottenPositions(t *testing.T, client Client, stream string, opts []func(*Options), shard string, other []types.Record) {
	t.Helper()
	errs := onFirstBatch(t, client, stream, shard, opts, 4, func(ctx context.Context, in ProcessRecordsInput) ([]error, error) {
		if len(in.Records) < 10 {
			return nil, fmt.Errorf("want at least 10 records in one batch, got %d", len(in.Records))
		}
		// Only the last 4 Kinesis records are remembered: records 0..4 are forgotten.
		foreign := sequenceBetween(other, "0", in.Records[4].SequenceNumber, nil)
		if foreign == "" {
			return nil, errors.New("no sequence number of the other shard before record 4")
		}
		return []error{
			in.Checkpointer.CheckpointAt(ctx, foreign, 0),                      // forgotten range, another shard's
			in.Checkpointer.CheckpointAt(ctx, in.Records[2].SequenceNumber, 0), // forgotten, but of this shard
		}, nil
	})
	if len(errs) != 2 {
		t.Fatalf("%v", errs)
	}
	if !errors.Is(errs[0], ErrInvalidCheckpoint) {
		t.Errorf("CheckpointAt(another shard's sequence number, forgotten range): %v, want ErrInvalidCheckpoint", errs[0])
	}
	if errs[1] != nil {
		t.Errorf("CheckpointAt(a forgotten record of the shard): %v, want nil", errs[1])
	}
}
