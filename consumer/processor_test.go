package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

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
