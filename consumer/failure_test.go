package consumer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// lockedBuffer is a log destination safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// testShard returns a shard of a consumer built with opts, without running it; its logs
// go to the returned buffer, its metrics to reader.
func testShard(t *testing.T, ctx context.Context, opts ...func(*Options)) (*shard, *lockedBuffer, *sdkmetric.ManualReader) {
	t.Helper()
	fake, stream := newFakeStream(t, 1)
	logs := &lockedBuffer{}
	reader := sdkmetric.NewManualReader()
	opts = append([]func(*Options){func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
		o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		o.MaxRetryBackoff = time.Second
	}}, opts...)
	c, err := New(fake, stream, checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), opts...)
	require.NoError(t, err)
	return newShard(ctx, newWorker(c), checkpoint.Lease{Key: "shardId-000000000000"}, time.Now()), logs, reader
}

func TestGiveUpRetriesOnFailureUntilItSucceedsAndTheShardWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls []FailedRecord
		s, logs, reader := testShard(t, t.Context(), func(o *Options) {
			o.OnFailure = func(ctx context.Context, f FailedRecord) error {
				calls = append(calls, f)
				switch len(calls) {
				case 1:
					return errors.New("dead-letter stream throttled")
				case 2:
					panic("dead-letter bug")
				}
				return nil
			}
		})
		f := FailedRecord{Record: Record{Data: []byte("secret payload"), SequenceNumber: "49590", SubSequenceNumber: 2},
			StreamName: "s", ShardID: s.id, Attempts: 3, Err: errPoison, Reason: RetriesExhausted}
		start := time.Now()
		require.True(t, s.giveUp(f))
		assert.Len(t, calls, 3)
		for _, c := range calls {
			assert.Equal(t, f, c)
		}
		// Two backoffs: 50..100ms, then 100..200ms.
		assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

		out := logs.String()
		assert.Equal(t, 1, strings.Count(out, "level=ERROR"), out)
		assert.Contains(t, out, "sequence_number=49590 subsequence_number=2")
		assert.Contains(t, out, "reason=RetriesExhausted")
		assert.NotContains(t, out, "secret payload")
		ints, _ := collect(t, reader)
		assert.EqualValues(t, 1, sum(ints["RecordsGivenUp"], "reason", "RetriesExhausted"))
		assert.EqualValues(t, 2, sum(ints["OnFailure.Errors"], "shard", s.id))
	})
}

func TestGiveUpWithoutOnFailureLogsAndSkips(t *testing.T) {
	s, logs, reader := testShard(t, t.Context())
	f := FailedRecord{Record: Record{Data: []byte("secret payload"), SequenceNumber: "7"}, ShardID: s.id, Err: ErrRecordTooOld, Reason: RecordTooOld}
	require.True(t, s.giveUp(f))
	out := logs.String()
	assert.Equal(t, 1, strings.Count(out, "level=ERROR"), out)
	assert.Contains(t, out, "no OnFailure")
	assert.NotContains(t, out, "secret payload")
	ints, _ := collect(t, reader)
	assert.EqualValues(t, 1, sum(ints["RecordsGivenUp"], "reason", "RecordTooOld"))
}

func TestGiveUpStopsWhenTheLeaseIsLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		s, _, _ := testShard(t, ctx, func(o *Options) {
			o.OnFailure = func(ctx context.Context, f FailedRecord) error {
				cancel()
				return ctx.Err()
			}
		})
		assert.False(t, s.giveUp(FailedRecord{Err: errPoison, Reason: RetriesExhausted}))
	})
}

func TestNewValidatesTheFailurePolicy(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	proc := NewFunc(func(context.Context, string, []Record) error { return nil })
	for name, fn := range map[string]func(*Options){
		"MaxRetries below NoRetries": func(o *Options) { o.MaxRetries = -2 },
		"negative MaxRecordAge":      func(o *Options) { o.MaxRecordAge = -time.Second },
	} {
		_, err := New(fake, stream, checkpoint.NewMemory(), proc, fn)
		assert.ErrorIs(t, err, ErrInvalidOptions, name)
	}
	for _, tc := range []struct {
		maxRetries int
		want       failurePolicy
	}{
		{0, failurePolicy{maxRetries: -1}},
		{NoRetries, failurePolicy{maxRetries: 0}},
		{3, failurePolicy{maxRetries: 3}},
	} {
		c, err := New(fake, stream, checkpoint.NewMemory(), proc, func(o *Options) { o.MaxRetries = tc.maxRetries })
		require.NoError(t, err)
		assert.Equal(t, tc.want, newFailurePolicy(&c.opts), "MaxRetries %d", tc.maxRetries)
	}
}

func TestFailurePolicyDecide(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh := Record{ApproximateArrivalTimestamp: now.Add(-time.Second)}
	old := Record{ApproximateArrivalTimestamp: now.Add(-time.Hour)}
	pol := failurePolicy{maxRetries: 2, maxAge: time.Minute}
	for _, tc := range []struct {
		r        Record
		failures int
		reason   FailureReason
		giveUp   bool
	}{
		{fresh, 1, "", false},
		{fresh, 2, "", false},
		{fresh, 3, RetriesExhausted, true},
		{old, 1, RecordTooOld, true},
		{Record{}, 1, "", false}, // no arrival time: no age
	} {
		reason, giveUp := pol.decide(tc.r, tc.failures, now)
		assert.Equal(t, tc.reason, reason)
		assert.Equal(t, tc.giveUp, giveUp)
	}
	forever := failurePolicy{maxRetries: -1}
	_, giveUp := forever.decide(fresh, 1000, now)
	assert.False(t, giveUp)
}

func TestPartialFailureUnwrapsToItsError(t *testing.T) {
	err := error(&PartialFailure{Record: Record{SequenceNumber: "1"}, Err: errPoison})
	assert.ErrorIs(t, err, errPoison)
	var pf *PartialFailure
	assert.True(t, errors.As(errors.Join(errors.New("x"), err), &pf))
}

// Through a consumer on the in-process Kinesis: bisection and give-up are counted per
// shard, and a Checkpoint made between calls (here from OnFailure, while the poison
// record is being handed over) covers only the records accepted so far.
func TestFailurePolicyMetricsAndCheckpointBetweenCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 8, 8, "m")
		reader := sdkmetric.NewManualReader()
		store := checkpoint.NewMemory()
		var mu sync.Mutex
		var cp Checkpointer
		var accepted []string
		var atHandOver checkpoint.ExtendedSequenceNumber
		seen := map[string]Record{}
		given := make(chan FailedRecord, 1)
		proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
			mu.Lock()
			defer mu.Unlock()
			cp = in.Checkpointer
			for _, r := range in.Records {
				seen[string(r.Data)] = r
				if string(r.Data) == want[5] {
					return errPoison
				}
			}
			for _, r := range in.Records {
				accepted = append(accepted, string(r.Data))
			}
			return nil
		}}
		c, err := New(fake, stream, store, func(string) RecordProcessor { return proc }, fastOptions(t, "w1", func(o *Options) {
			o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			o.BisectOnError = true
			o.MaxRetries = 2
			o.OnFailure = func(ctx context.Context, f FailedRecord) error {
				mu.Lock()
				defer mu.Unlock()
				if err := cp.Checkpoint(ctx); err != nil {
					return err
				}
				l, err := store.GetLease(ctx, f.ShardID)
				if err != nil {
					return err
				}
				atHandOver = l.Checkpoint
				given <- f
				return nil
			}
		})...)
		require.NoError(t, err)
		stop := runConsumer(t, c)
		f := <-given
		waitUntil(t, 10*time.Second, "the other records", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(accepted) == len(want)-1
		})
		stop()
		assert.Equal(t, want[5], string(f.Record.Data))
		before := seen[want[4]]
		assert.Equal(t, checkpoint.ExtendedSequenceNumber{SequenceNumber: before.SequenceNumber}, atHandOver, "the checkpoint between calls stops before the failing record")
		ints, _ := collect(t, reader)
		shard := "shardId-000000000000"
		assert.EqualValues(t, 1, sum(ints["RecordsGivenUp"], "reason", string(RetriesExhausted)))
		assert.EqualValues(t, 2, sum(ints["RecordProcessor.Bisections"], "shard", shard)) // [0,8) and [4,6)
		assert.EqualValues(t, 2, sum(ints["RecordProcessor.Retries"], "shard", shard))    // the record alone, twice
		assert.EqualValues(t, 0, sum(ints["OnFailure.Errors"], "shard", shard))
		assert.EqualValues(t, 7, sum(ints["RecordsProcessed"], "shard", shard))
	})
}

// A call interrupted by the shutdown did not accept its records: a Checkpoint in
// ShutdownRequested covers only the calls that returned nil. (Before, it covered the
// interrupted batch, which the next owner then skipped.)
func TestShutdownCheckpointDoesNotCoverAnInterruptedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		putRecords(t, fake, stream, 4, 4, "first")
		store := checkpoint.NewMemory()
		var mu sync.Mutex
		var firstLast Record
		calls := 0
		blocked := make(chan struct{})
		proc := &scriptedProcessor{
			process: func(ctx context.Context, in ProcessRecordsInput) error {
				mu.Lock()
				calls++
				n := calls
				if n == 1 {
					firstLast = in.Records[len(in.Records)-1]
				}
				mu.Unlock()
				if n == 1 {
					return nil // accepted, not checkpointed
				}
				close(blocked)
				<-ctx.Done()
				return ctx.Err()
			},
			shutdown: func(ctx context.Context, in ShutdownRequestedInput) error { return in.Checkpointer.Checkpoint(ctx) },
		}
		c, err := New(fake, stream, store, func(string) RecordProcessor { return proc }, fastOptions(t, "w1")...)
		require.NoError(t, err)
		stop := runConsumer(t, c)
		waitUntil(t, 10*time.Second, "the first batch", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return calls == 1
		})
		putRecords(t, fake, stream, 4, 4, "second")
		<-blocked
		stop()
		l, err := store.GetLease(context.Background(), "shardId-000000000000")
		require.NoError(t, err)
		assert.Equal(t, checkpoint.ExtendedSequenceNumber{SequenceNumber: firstLast.SequenceNumber}, l.Checkpoint)
	})
}

// NewFunc checkpoints, at a graceful shutdown, a record given up after its last
// accepted batch, so the restart does not hand it over again.
func TestNewFuncCheckpointsAGivenUpTailAtShutdown(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	want := putRecords(t, fake, stream, 4, 4, "tail")
	store := checkpoint.NewMemory()
	given := make(chan FailedRecord, 1)
	fn := func(ctx context.Context, _ string, recs []Record) error {
		for _, r := range recs {
			if string(r.Data) == want[3] {
				return errPoison
			}
		}
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1", func(o *Options) {
		o.BisectOnError = true
		o.MaxRetries = NoRetries
		o.OnFailure = func(ctx context.Context, f FailedRecord) error { given <- f; return nil }
	})...)
	require.NoError(t, err)
	stop := runConsumer(t, c)
	f := <-given
	// The shard's goroutine completes the hand-over before it calls ShutdownRequested.
	stop()
	l, err := store.GetLease(context.Background(), "shardId-000000000000")
	require.NoError(t, err)
	assert.Equal(t, checkpoint.ExtendedSequenceNumber{SequenceNumber: f.Record.SequenceNumber}, l.Checkpoint)
}
