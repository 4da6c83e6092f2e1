package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
)

func TestNewFuncCheckpointsAcceptedBatches(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	want := putRecords(t, fake, stream, 4, 40, "a")
	store := checkpoint.NewMemory()
	r := newRecorder()
	var failed atomic.Bool
	fn := func(ctx context.Context, shardID string, records []Record) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("not now")
		}
		r.add("w1", shardID, records)
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	leases, _ := store.ListLeases(context.Background())
	for _, l := range leases {
		recs := fake.Records(stream, l.Key)
		if last := aws.ToString(recs[len(recs)-1].SequenceNumber); l.Checkpoint.SequenceNumber != last {
			t.Errorf("%s checkpoint %s, want %s", l.Key, l.Checkpoint, last)
		}
	}
}

// A batch fn accepts while the worker shuts down (so its ctx is cancelled and the
// checkpoint right after fails) is checkpointed by the graceful shutdown.
func TestNewFuncCheckpointsTheLastBatchAtShutdown(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	putRecords(t, fake, stream, 1, 10, "a")
	store := checkpoint.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	var last atomic.Pointer[Record]
	fn := func(fctx context.Context, _ string, records []Record) error {
		if last.Load() == nil {
			last.Store(&records[len(records)-1])
			cancel() // shut down now: fctx ends before the checkpoint
			<-fctx.Done()
		}
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	leases, err := store.ListLeases(context.Background())
	if err != nil || len(leases) != 1 {
		t.Fatalf("leases %v, %v", leases, err)
	}
	want := last.Load()
	if want == nil {
		t.Fatal("fn was not called")
	}
	if got := leases[0].Checkpoint; got.SequenceNumber != want.SequenceNumber || got.SubSequenceNumber != want.SubSequenceNumber {
		t.Errorf("checkpoint %v, want the batch's last record %s/%d", got, want.SequenceNumber, want.SubSequenceNumber)
	}
}

// MaxUserRecords splits a deaggregated batch into ProcessRecords calls of at most that
// many user records; NewFunc checkpoints after each of them, so it also bounds the
// records processed again after a failover.
func TestMaxUserRecordsSplitsAggregatedBatches(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	var entries []types.PutRecordsRequestEntry
	var want []string
	for a := range 4 {
		var subs []aggregation.UserRecord
		for i := range 250 {
			d := fmt.Sprintf("u/%d", a*250+i)
			subs = append(subs, aggregation.UserRecord{PartitionKey: "k", Data: []byte(d)})
			want = append(want, d)
		}
		entries = append(entries, aggregate(t, subs))
	}
	if _, err := fake.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}); err != nil {
		t.Fatal(err)
	}
	store := checkpoint.NewMemory()
	const shard0 = "shardId-000000000000"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []string
	var sizes []int
	var prevLast checkpoint.ExtendedSequenceNumber
	fn := func(fctx context.Context, _ string, records []Record) error {
		l, err := store.GetLease(fctx, shard0)
		if err != nil {
			return err
		}
		if !prevLast.IsZero() && l.Checkpoint.Compare(prevLast) != 0 {
			t.Errorf("call %d: checkpoint %s, want the previous call's last record %s", len(sizes)+1, l.Checkpoint, prevLast)
		}
		sizes = append(sizes, len(records))
		for _, r := range records {
			got = append(got, string(r.Data))
		}
		last := records[len(records)-1]
		prevLast = checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: last.SubSequenceNumber}
		if len(got) == len(want) {
			cancel()
		}
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1", func(o *Options) { o.MaxUserRecords = 100 })...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d records, want the %d put, in order", len(got), len(want))
	}
	for i, n := range sizes {
		if n > 100 {
			t.Errorf("call %d got %d user records; MaxUserRecords is 100", i+1, n)
		}
	}
	if len(sizes) != 10 {
		t.Errorf("%d ProcessRecords calls (%v), want 10 of 100", len(sizes), sizes)
	}
	l, err := store.GetLease(context.Background(), shard0)
	if err != nil {
		t.Fatal(err)
	}
	if l.Checkpoint.Compare(prevLast) != 0 {
		t.Errorf("final checkpoint %s, want the last record %s", l.Checkpoint, prevLast)
	}
}
