package consumer

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// poisonProcessor fails every call that contains its poison record (with an error, or
// with a PartialFailure naming it) and accepts and checkpoints the others. It records
// every delivery.
type poisonProcessor struct {
	poison  string
	partial bool

	mu         sync.Mutex
	deliveries map[string]int // data -> deliveries
	accepted   map[string]int // data -> calls that accepted it
	order      []string       // data in order of acceptance
	alone      int            // deliveries of the poison record alone
	calls      []int          // size of each call
	failed     []FailedRecord // from OnFailure
	onFailure  func(ctx context.Context, f FailedRecord) error
	afterGive  []string // data accepted after the first OnFailure success
}

func newPoisonProcessor(t *testing.T, poison string, partial bool) *poisonProcessor {
	return &poisonProcessor{poison: poison, partial: partial, deliveries: map[string]int{}, accepted: map[string]int{}}
}

func (p *poisonProcessor) factory(string) RecordProcessor {
	return &scriptedProcessor{process: p.process}
}

func (p *poisonProcessor) process(ctx context.Context, in ProcessRecordsInput) error {
	p.mu.Lock()
	p.calls = append(p.calls, len(in.Records))
	bad := -1
	for i, r := range in.Records {
		p.deliveries[string(r.Data)]++
		if string(r.Data) == p.poison {
			bad = i
		}
	}
	if bad >= 0 && len(in.Records) == 1 {
		p.alone++
	}
	p.mu.Unlock()
	if bad < 0 {
		p.accept(in.Records)
		return in.Checkpointer.Checkpoint(ctx)
	}
	if !p.partial {
		return errPoison
	}
	p.accept(in.Records[:bad])
	if bad > 0 {
		prev := in.Records[bad-1]
		if err := in.Checkpointer.CheckpointAt(ctx, prev.SequenceNumber, prev.SubSequenceNumber); err != nil {
			return err
		}
	}
	return fmt.Errorf("handling %s: %w", p.poison, &PartialFailure{Record: in.Records[bad], Err: errPoison})
}

func (p *poisonProcessor) accept(recs []Record) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		d := string(r.Data)
		p.accepted[d]++
		p.order = append(p.order, d)
		if len(p.failed) > 0 {
			p.afterGive = append(p.afterGive, d)
		}
	}
}

func (p *poisonProcessor) handOver(ctx context.Context, f FailedRecord) error {
	if p.onFailure != nil {
		if err := p.onFailure(ctx, f); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed = append(p.failed, f)
	return nil
}

func (p *poisonProcessor) snapshot() (failed []FailedRecord, accepted int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.failed), len(p.accepted)
}

// waitCheckpoint waits until the shard's checkpoint is at the record with data d.
func waitCheckpoint(t *testing.T, store checkpoint.Store, shard string, pos checkpoint.ExtendedSequenceNumber) {
	t.Helper()
	waitUntil(t, 30*time.Second, "the checkpoint at "+pos.String(), func() bool {
		l, err := store.GetLease(context.Background(), shard)
		return err == nil && l.Checkpoint.Compare(pos) == 0
	})
}

// poisonRun puts 1,000 records with 1,000 keys on a one-shard stream, the 701st the
// poison, and consumes them with BisectOnError (or PartialFailure) and MaxRetries 2.
func poisonRun(t *testing.T, partial bool) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	kc := env.Kinesis()
	store := newStore(t, env)
	want := putRecords(t, kc, stream, 1000, 1000, "p")
	const poisonAt = 700
	p := newPoisonProcessor(t, want[poisonAt], partial)
	c, err := New(kc, stream, store, p.factory, testOptions(t, "w1", func(o *Options) {
		o.BisectOnError = !partial
		o.MaxRetries = 2
		o.OnFailure = p.handOver
	})...)
	require.NoError(t, err)
	stop := runConsumer(t, c)
	waitUntil(t, 60*time.Second, "the poison record given up and the others accepted", func() bool {
		failed, accepted := p.snapshot()
		return len(failed) == 1 && accepted == len(want)-1
	})
	leases, err := store.ListLeases(context.Background())
	require.NoError(t, err)
	require.Len(t, leases, 1)
	shard := leases[0].Key

	p.mu.Lock()
	f := p.failed[0]
	assert.Equal(t, want[poisonAt], string(f.Record.Data), "OnFailure gets the record with its data")
	assert.Equal(t, p.deliveries[p.poison], f.Attempts, "Attempts counts every delivery of the record")
	if partial {
		// The PartialFailure in the first call counts: 1 + MaxRetries deliveries in all.
		assert.Equal(t, 3, f.Attempts)
		assert.Equal(t, 2, p.alone, "retried alone")
	} else {
		// Bisection deliveries do not count: 1 + MaxRetries deliveries alone.
		assert.Equal(t, 3, p.alone, "the isolated record is delivered 1 + MaxRetries times")
	}
	assert.Equal(t, RetriesExhausted, f.Reason)
	assert.ErrorIs(t, f.Err, errPoison)
	assert.Equal(t, stream, f.StreamName)
	assert.Equal(t, shard, f.ShardID)
	redelivered, before := 0, 0
	for i, d := range want {
		if i == poisonAt {
			continue
		}
		assert.Equal(t, 1, p.accepted[d], "record %d accepted once", i)
		redelivered += p.deliveries[d] - 1
		if i < poisonAt {
			before += p.deliveries[d] - 1
		}
	}
	t.Logf("partial=%v: first call %d records; %d calls; poison delivered %d times (%d alone); other records re-delivered %d times (%d of those before the poison)",
		partial, p.calls[0], len(p.calls), f.Attempts, p.alone, redelivered, before)
	if partial {
		assert.Zero(t, before, "records before the poison are never delivered again with PartialFailure")
	}
	p.mu.Unlock()

	// The checkpoint ends past the poison record, and the shard goes on.
	more := putRecords(t, kc, stream, 5, 5, "q")
	waitUntil(t, 30*time.Second, "the records put afterwards", func() bool {
		_, accepted := p.snapshot()
		return accepted == len(want)-1+len(more)
	})
	l, err := store.GetLease(context.Background(), shard)
	require.NoError(t, err)
	poisonPos, _ := checkpoint.ParseExtendedSequenceNumber(f.Record.SequenceNumber, f.Record.SubSequenceNumber)
	assert.Positive(t, l.Checkpoint.Compare(poisonPos), "checkpoint %s is past the poison record %s", l.Checkpoint, poisonPos)
	stop()
}

func TestPoisonRecordIsBisectedOutAndHandedToOnFailure(t *testing.T) {
	poisonRun(t, false)
}

func TestPoisonRecordNamedByPartialFailureIsHandedToOnFailure(t *testing.T) {
	poisonRun(t, true)
}

func TestRecordsOlderThanMaxRecordAgeGoToOnFailureWithoutDelivery(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	kc := env.Kinesis()
	store := newStore(t, env)
	old := putRecords(t, kc, stream, 4, 20, "old")
	const maxAge = 2 * time.Second
	time.Sleep(maxAge + 500*time.Millisecond) // arrival times are the emulator's clock
	p := newPoisonProcessor(t, "none", false)
	c, err := New(kc, stream, store, p.factory, testOptions(t, "w1", func(o *Options) {
		o.MaxRecordAge = maxAge
		o.OnFailure = p.handOver
	})...)
	require.NoError(t, err)
	stop := runConsumer(t, c)
	waitUntil(t, 30*time.Second, "the old records given up", func() bool {
		failed, _ := p.snapshot()
		return len(failed) == len(old)
	})
	fresh := putRecords(t, kc, stream, 4, 10, "fresh")
	waitUntil(t, 30*time.Second, "the fresh records", func() bool {
		_, accepted := p.snapshot()
		return accepted == len(fresh)
	})
	stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, f := range p.failed {
		assert.Equal(t, old[i], string(f.Record.Data))
		assert.Equal(t, RecordTooOld, f.Reason)
		assert.Zero(t, f.Attempts, "never delivered")
		assert.ErrorIs(t, f.Err, ErrRecordTooOld)
		assert.Zero(t, p.deliveries[old[i]])
	}
	for _, d := range fresh {
		assert.Equal(t, 1, p.accepted[d])
	}
}

func TestFailingOnFailureMakesTheShardWaitAndLosesNothing(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	kc := env.Kinesis()
	store := newStore(t, env)
	want := putRecords(t, kc, stream, 10, 100, "p")
	p := newPoisonProcessor(t, want[40], true)
	var calls int
	var mu sync.Mutex
	p.onFailure = func(ctx context.Context, f FailedRecord) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 5 {
			return errors.New("dead-letter stream unavailable")
		}
		return nil
	}
	c, err := New(kc, stream, store, p.factory, testOptions(t, "w1", func(o *Options) {
		o.MaxRetries = NoRetries
		o.MaxRetryBackoff = 100 * time.Millisecond
		o.OnFailure = p.handOver
	})...)
	require.NoError(t, err)
	stop := runConsumer(t, c)
	waitUntil(t, 30*time.Second, "every record accepted or given up", func() bool {
		failed, accepted := p.snapshot()
		return len(failed) == 1 && accepted == len(want)-1
	})
	stop()
	mu.Lock()
	assert.Equal(t, 6, calls, "the hand-over is retried until OnFailure succeeds")
	mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Equal(t, want[40], string(p.failed[0].Record.Data))
	assert.Equal(t, 1, p.failed[0].Attempts)
	// The shard waited: the records after the poison were accepted only after the
	// hand-over succeeded, none before.
	assert.Equal(t, want[41:], p.afterGive)
	assert.Equal(t, want[:40], p.order[:40])
}

// A worker is killed with SIGKILL after it handed a record over to OnFailure and before
// any checkpoint covered it (the poison record is the last of the shard, so no later
// batch checkpoints past it): the worker that takes the shard over hands it over again.
// At-least-once holds for dead letters too.
func TestGivenUpRecordIsHandedOverAgainAfterACrashBeforeItsCheckpoint(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	kc := env.Kinesis()
	store := newStore(t, env)
	require.NoError(t, store.EnsureTable(context.Background()))
	proxy := httptest.NewServer(detachedProxy(env.DynamoDBEndpoint))
	defer proxy.Close()
	want := putRecords(t, kc, stream, 50, 200, "p")
	poison := want[len(want)-1]
	r := newRecorder()
	const failover = 3 * time.Second
	h := startHelper(t, helperConfig{KinesisEndpoint: env.KinesisEndpoint, DynamoDBEndpoint: proxy.URL, Stream: stream,
		Table: store.TableName(), Worker: "crasher", FailoverTime: failover, PoisonData: poison}, r)
	r.waitFor(t, 60*time.Second, "the helper handing the poison record over", func() bool { return r.hasEvent("dlq crasher " + poison) })
	h.killHard(t)
	leases, err := store.ListLeases(context.Background())
	require.NoError(t, err)
	require.Len(t, leases, 1)
	// Everything before the poison record was accepted and checkpointed; the poison
	// record itself is not covered.
	r.mu.Lock()
	last := r.deliveries[len(r.deliveries)-1].rec
	r.mu.Unlock()
	assert.Equal(t, want[len(want)-2], string(last.Data))
	waitCheckpoint(t, store, leases[0].Key, checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: last.SubSequenceNumber})

	p := newPoisonProcessor(t, poison, false)
	c, err := New(kc, stream, store, p.factory, testOptions(t, "w2", func(o *Options) {
		o.FailoverTime = failover
		o.BisectOnError = true
		o.MaxRetries = NoRetries
		o.OnFailure = p.handOver
	})...)
	require.NoError(t, err)
	stop := runConsumer(t, c)
	waitUntil(t, 60*time.Second, "the poison record handed over again after the takeover", func() bool {
		failed, _ := p.snapshot()
		return len(failed) == 1
	})
	stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.Equal(t, poison, string(p.failed[0].Record.Data))
	assert.Empty(t, p.accepted, "the records before it were checkpointed by the killed worker")
}
