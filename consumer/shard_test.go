package consumer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/checkpoint"
)

func TestProcessorErrorsAndPanicsRetryTheSameBatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		want := putRecords(t, fake, stream, 8, 200, "a")
		r := newRecorder()
		var mu sync.Mutex
		var firstOfAttempt []string // shard 1: first record of each call
		var at []time.Time          // shard 1: when each call came
		r.fail = func(shard string, recs []Record) error {
			if shard != "shardId-000000000001" {
				return nil
			}
			mu.Lock()
			firstOfAttempt = append(firstOfAttempt, string(recs[0].Data))
			at = append(at, time.Now())
			n := len(at)
			mu.Unlock()
			switch n {
			case 1:
				return errors.New("database down")
			case 2:
				panic("processor bug")
			}
			return nil
		}
		const maxBackoff = 10 * time.Second
		c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1", func(o *Options) { o.MaxRetryBackoff = maxBackoff })...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, time.Minute, "all records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		mu.Lock()
		defer mu.Unlock()
		if len(firstOfAttempt) < 3 || firstOfAttempt[0] != firstOfAttempt[1] || firstOfAttempt[1] != firstOfAttempt[2] {
			t.Fatalf("the failed batch was not passed again unchanged: first records of the calls %v", firstOfAttempt)
		}
		// Failure n waits the backoff of attempt n: from retryBaseDelay, equal jitter.
		for i := 1; i < 3; i++ {
			ceiling := min(maxBackoff, retryBaseDelay<<(i-1))
			if g := at[i].Sub(at[i-1]); g < ceiling/2 || g > ceiling {
				t.Errorf("call %d came %v after failure %d, want within [%v, %v]", i+1, g, i, ceiling/2, ceiling)
			}
		}
		if r.total() != len(want) {
			t.Errorf("%d deliveries of %d records", r.total(), len(want))
		}
	})
}

func TestPanicErrorCarriesTheStack(t *testing.T) {
	s := &shard{}
	err := s.call("ProcessRecords", func() error { panic(errors.New("boom")) })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Method != "ProcessRecords" || !strings.Contains(string(pe.Stack), "TestPanicErrorCarriesTheStack") {
		t.Fatalf("got %#v", err)
	}
	if err.Error() == "" || errors.Unwrap(err) == nil || errors.Unwrap(err).Error() != "boom" {
		t.Errorf("Unwrap does not return the panic's error: %v", errors.Unwrap(err))
	}
}

// scriptedProcessor runs a function for each lifecycle call.
type scriptedProcessor struct {
	init     func(ctx context.Context, in InitializeInput) error
	process  func(ctx context.Context, in ProcessRecordsInput) error
	lost     func(ctx context.Context, in LeaseLostInput)
	ended    func(ctx context.Context, in ShardEndedInput) error
	shutdown func(ctx context.Context, in ShutdownRequestedInput) error
}

func (p *scriptedProcessor) Initialize(ctx context.Context, in InitializeInput) error {
	if p.init != nil {
		return p.init(ctx, in)
	}
	return nil
}

func (p *scriptedProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if p.process != nil {
		return p.process(ctx, in)
	}
	return nil
}

func (p *scriptedProcessor) LeaseLost(ctx context.Context, in LeaseLostInput) {
	if p.lost != nil {
		p.lost(ctx, in)
	}
}

func (p *scriptedProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	if p.ended != nil {
		return p.ended(ctx, in)
	}
	return nil
}

func (p *scriptedProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	if p.shutdown != nil {
		return p.shutdown(ctx, in)
	}
	return nil
}

func TestLostLeaseCancelsProcessingAndFencesTheCheckpointer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		putRecords(t, fake, stream, 1, 5, "a")
		const failoverTime = 30 * time.Second
		store := checkpoint.NewMemory()
		inBatch := make(chan Checkpointer, 1)
		cancelled := make(chan struct{})
		lost := make(chan struct{})
		var calls atomic.Int32
		newProc := func(string) RecordProcessor {
			return &scriptedProcessor{
				process: func(ctx context.Context, in ProcessRecordsInput) error {
					if calls.Add(1) > 1 {
						return nil
					}
					inBatch <- in.Checkpointer
					<-ctx.Done() // a slow batch: it must be interrupted
					close(cancelled)
					return ctx.Err()
				},
				lost: func(ctx context.Context, in LeaseLostInput) { close(lost) },
			}
		}
		c, err := New(fake, stream, store, newProc, fastOptions(t, "w1", func(o *Options) { o.FailoverTime = failoverTime })...)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
		var cp Checkpointer
		select {
		case cp = <-inBatch:
		case <-time.After(10 * time.Second):
			t.Fatal("no batch")
		}
		// Another worker takes the lease; w1 learns it at its next renewal (FailoverTime/3).
		l, err := store.GetLease(context.Background(), "shardId-000000000000")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.TakeLease(context.Background(), l, "thief"); err != nil {
			t.Fatal(err)
		}
		taken := time.Now()
		renewal := failoverTime / renewalsPerFailover
		for _, ch := range []chan struct{}{cancelled, lost} {
			select {
			case <-ch:
			case <-time.After(renewal + time.Nanosecond):
				t.Fatalf("the lease loss was not noticed within a renewal interval (%v)", renewal)
			}
		}
		if d := time.Since(taken); d <= 0 || d > renewal {
			t.Errorf("the loss was noticed %v after the take, want at the next renewal, within (0, %v]", d, renewal)
		}
		if err := cp.Checkpoint(context.Background()); !errors.Is(err, ErrLeaseLost) {
			t.Errorf("Checkpoint after the loss: %v, want ErrLeaseLost", err)
		}
		if l, _ := store.GetLease(context.Background(), "shardId-000000000000"); l.Owner != "thief" || l.Checkpoint != checkpoint.PositionTrimHorizon {
			t.Errorf("lease after the loss: owner %q checkpoint %s", l.Owner, l.Checkpoint)
		}
	})
}

func TestShardEndIsCheckpointedWhenTheProcessorForgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 8, 100, "a")
		store := checkpoint.NewMemory()
		r := newRecorder()
		var ended atomic.Int32
		newProc := func(shard string) RecordProcessor {
			tp := r.factory("w1")(shard).(*testProcessor)
			return &scriptedProcessor{
				init:    tp.Initialize,
				process: tp.ProcessRecords,
				ended: func(ctx context.Context, in ShardEndedInput) error {
					ended.Add(1)
					r.event("ended %s children=%v", in.ShardID, in.ChildShardIDs)
					return nil // forgets to checkpoint
				},
			}
		}
		c, err := New(fake, stream, store, newProc, fastOptions(t, "w1")...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		if _, err := fake.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String("shardId-000000000000"),
			NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
			t.Fatal(err)
		}
		want = append(want, putRecords(t, fake, stream, 8, 100, "b")...)
		r.waitFor(t, 10*time.Second, "records after the split", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		l, err := store.GetLease(context.Background(), "shardId-000000000000")
		if err != nil {
			t.Fatal(err)
		}
		if !l.Checkpoint.IsShardEnd() || l.Owner != "" || strings.Join(l.ChildShardIDs, ",") != "shardId-000000000001,shardId-000000000002" {
			t.Errorf("parent lease after its end: %+v", l)
		}
		if ended.Load() != 1 {
			t.Errorf("ShardEnded called %d times", ended.Load())
		}
		for _, child := range []string{"shardId-000000000001", "shardId-000000000002"} {
			cl, err := store.GetLease(context.Background(), child)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(cl.ParentShardIDs, ",") != "shardId-000000000000" || cl.StartingHashKey == "" {
				t.Errorf("child lease %+v", cl)
			}
		}
	})
}
