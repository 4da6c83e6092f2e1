package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
)

// keyedHandler is a per-record handler that records deliveries and checks that two
// records of one key never run at once.
type keyedHandler struct {
	r       *recorder
	worker  string
	latency func() time.Duration
	block   func(Record) <-chan struct{} // when set and non-nil for a record, the handler waits for it

	mu      sync.Mutex
	running map[string]int
	maxRun  int
	total   int
}

func newKeyedHandler(r *recorder, worker string) *keyedHandler {
	return &keyedHandler{r: r, worker: worker, running: map[string]int{}}
}

func (h *keyedHandler) handle(ctx context.Context, rec Record) error {
	h.mu.Lock()
	if h.running[rec.PartitionKey] > 0 {
		h.r.violate("two records of key %s ran at once", rec.PartitionKey)
	}
	h.running[rec.PartitionKey]++
	h.total++
	h.maxRun = max(h.maxRun, h.total)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.running[rec.PartitionKey]--
		h.total--
		h.mu.Unlock()
	}()
	if h.block != nil {
		if c := h.block(rec); c != nil {
			select {
			case <-c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	if h.latency != nil {
		if !sleep(ctx, h.latency()) {
			return ctx.Err()
		}
	}
	h.r.add(h.worker, rec.ShardID, []Record{rec})
	return nil
}

// lastPositions returns the largest position delivered per shard.
func (r *recorder) lastPositions() map[string]checkpoint.ExtendedSequenceNumber {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]checkpoint.ExtendedSequenceNumber{}
	for _, d := range r.deliveries {
		p := checkpoint.ExtendedSequenceNumber{SequenceNumber: d.rec.SequenceNumber, SubSequenceNumber: d.rec.SubSequenceNumber}
		if p.Compare(out[d.shard]) > 0 {
			out[d.shard] = p
		}
	}
	return out
}

func TestRecordFuncKeepsKeyOrderAndAGracefulStopReplaysNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		want := putRecords(t, fake, stream, 8, 600, "a")
		r := newRecorder()
		h := newKeyedHandler(r, "w1")
		h.latency = func() time.Duration { return time.Duration(rand.IntN(2000)) * time.Microsecond }
		store := checkpoint.NewMemory()
		c, err := New(fake, stream, store, NewRecordFunc(h.handle), fastOptions(t, "w1", func(o *Options) {
			o.Concurrency = 16
			o.MaxRecords = 50 // many batches: keys run on across batch boundaries
			o.CheckpointInterval = 20 * time.Millisecond
		})...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 30*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		if r.total() != len(want) {
			t.Errorf("%d deliveries of %d records: records were handled twice", r.total(), len(want))
		}
		if h.maxRun < 2 {
			t.Errorf("at most %d records ran at once with Concurrency 16 and 8 keys per shard", h.maxRun)
		}
		// The graceful stop checkpointed every shard at its last record: a new owner
		// replays nothing.
		leases, err := store.ListLeases(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		last := r.lastPositions()
		for _, l := range leases {
			if l.Checkpoint.Compare(last[l.Key]) != 0 {
				t.Errorf("shard %s checkpointed at %s after a graceful stop, want its last record %s", l.Key, l.Checkpoint, last[l.Key])
			}
		}
	})
}

// countingClient counts the records GetRecords returned.
type countingClient struct {
	Client
	records atomic.Int64
}

func (c *countingClient) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	out, err := c.Client.GetRecords(ctx, in, optFns...)
	if err == nil {
		c.records.Add(int64(len(out.Records)))
	}
	return out, err
}

// A record whose handler does not return holds back only the later records of its key
// and the checkpoint; the other keys go on across batch boundaries until the memory
// bound is reached, and then the reader stops fetching. Once the record is done,
// everything is handled and checkpointed. The gauges show the blocked key, the records
// in flight and the watermark lag.
func TestRecordFuncSlowKeyHoldsBackOnlyItsKeyAndTheCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 4, 400, "a") // a-k000/0 is the shard's first record
		client := &countingClient{Client: fake}
		r := newRecorder()
		h := newKeyedHandler(r, "w1")
		release := make(chan struct{})
		h.block = func(rec Record) <-chan struct{} {
			if string(rec.Data) == "a-k000/0" {
				return release
			}
			return nil
		}
		store := checkpoint.NewMemory()
		reader := sdkmetric.NewManualReader()
		const maxRecords, prefetch = 20, 2
		c, err := New(client, stream, store, NewRecordFunc(h.handle), fastOptions(t, "w1", func(o *Options) {
			o.Concurrency = 8
			o.MaxRecords = maxRecords
			o.MaxPrefetchBatches = prefetch
			o.CheckpointInterval = 100 * time.Millisecond
			o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		})...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()

		time.Sleep(10 * time.Second)
		synctest.Wait()
		// The processor holds prefetch batches, the shard goroutine one it waits to
		// hand over, the reader's channel prefetch more and the reader one in hand.
		bound := int64((2*prefetch + 2) * maxRecords)
		if n := client.records.Load(); n > bound || n < 2*maxRecords {
			t.Errorf("%d records read while one record is stuck, want between %d (beyond the first batch) and %d (the memory bound)", n, 2*maxRecords, bound)
		}
		handled := r.distinct()
		if handled < maxRecords {
			t.Errorf("only %d records handled while a-k000/0 is stuck: the other keys should go on across batch boundaries", handled)
		}
		r.mu.Lock()
		for _, d := range r.deliveries {
			if strings.HasPrefix(string(d.rec.Data), "a-k000/") {
				t.Errorf("%s handled before a-k000/0 was done", d.rec.Data)
			}
		}
		r.mu.Unlock()
		leases, err := store.ListLeases(context.Background())
		if err != nil || len(leases) != 1 {
			t.Fatalf("leases %v, %v", leases, err)
		}
		if !leases[0].Checkpoint.IsSentinel() {
			t.Errorf("checkpoint %s passes a-k000/0, which is not done", leases[0].Checkpoint)
		}
		ints, _ := collect(t, reader)
		if got := sum(ints["RecordProcessor.RecordsInFlight"], "", ""); got != 1 {
			t.Errorf("RecordsInFlight %d, want 1", got)
		}
		if got := sum(ints["RecordProcessor.KeysBlocked"], "", ""); got != 1 {
			t.Errorf("KeysBlocked %d, want 1 (a-k000)", got)
		}
		if got := sum(ints["RecordProcessor.WatermarkLag"], "", ""); got != int64(handled) {
			t.Errorf("WatermarkLag %d, want the %d records done above the stuck one", got, handled)
		}

		close(release)
		r.waitFor(t, time.Minute, "every record", func() bool { return r.distinct() >= len(want) })
		// Every record is done: the next checkpoint, at most one CheckpointInterval
		// later, is at the last record.
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		leases, err = store.ListLeases(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if last := r.lastPositions()["shardId-000000000000"]; leases[0].Checkpoint.Compare(last) != 0 {
			t.Errorf("checkpoint %s one CheckpointInterval after every record was done, want the last record %s", leases[0].Checkpoint, last)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		r.checkComplete(t, want)
	})
}

// Each user record of a KPL aggregate is its own unit: records of different keys in one
// aggregate run concurrently, and the checkpoint carries the subsequence number.
func TestRecordFuncHandlesEachAggregatedUserRecordOnItsOwn(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	var want []string
	var entries []types.PutRecordsRequestEntry
	for a := range 20 {
		var recs []aggregation.UserRecord
		for k := range 5 {
			d := fmt.Sprintf("agg-k%d/%d", k, a)
			recs = append(recs, aggregation.UserRecord{PartitionKey: fmt.Sprintf("agg-k%d", k), Data: []byte(d)})
			want = append(want, d)
		}
		entries = append(entries, aggregate(t, recs))
	}
	if _, err := fake.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	h := newKeyedHandler(r, "w1")
	// The first record of each key waits until all five keys have started: they can
	// only meet if the sub-records of the first aggregate run concurrently.
	var started sync.WaitGroup
	started.Add(5)
	all := make(chan struct{})
	go func() { started.Wait(); close(all) }()
	h.block = func(rec Record) <-chan struct{} {
		if strings.HasSuffix(string(rec.Data), "/0") {
			started.Done()
			return all
		}
		return nil
	}
	store := checkpoint.NewMemory()
	c, err := New(fake, stream, store, NewRecordFunc(h.handle), fastOptions(t, "w1", func(o *Options) { o.Concurrency = 5 })...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "all user records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	leases, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if last := r.lastPositions()["shardId-000000000000"]; leases[0].Checkpoint.Compare(last) != 0 || last.SubSequenceNumber != 4 {
		t.Errorf("checkpoint %s, want the last user record %s (subsequence 4)", leases[0].Checkpoint, last)
	}
}

// A failing record is retried; only its key waits for it.
func TestRecordFuncRetriesAFailingRecordWhileOtherKeysGoOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 3, 60, "a")
		r := newRecorder()
		h := newKeyedHandler(r, "w1")
		var (
			mu    sync.Mutex
			calls []time.Time // of a-k001/0
		)
		othersDone := make(chan struct{})
		var once sync.Once
		fn := func(ctx context.Context, rec Record) error {
			if string(rec.Data) == "a-k001/0" {
				mu.Lock()
				calls = append(calls, time.Now())
				n := len(calls)
				mu.Unlock()
				if n <= 3 {
					return errors.New("database down")
				}
				// Retried until the other keys were done: they did not wait for it.
				select {
				case <-othersDone:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			err := h.handle(ctx, rec)
			r.mu.Lock()
			n := 0
			for d := range r.first {
				if !strings.HasPrefix(d, "a-k001/") {
					n++
				}
			}
			r.mu.Unlock()
			if n == 40 {
				once.Do(func() { close(othersDone) })
			}
			return err
		}
		const maxBackoff = 10 * time.Second
		c, err := New(fake, stream, checkpoint.NewMemory(), NewRecordFunc(fn), fastOptions(t, "w1", func(o *Options) {
			o.Concurrency = 4
			o.MaxRetryBackoff = maxBackoff
		})...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 20*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		mu.Lock()
		defer mu.Unlock()
		if len(calls) != 4 {
			t.Fatalf("a-k001/0 was called %d times, want 3 failures and a success", len(calls))
		}
		// Retry i waits the backoff of attempt i: from recordRetryBase, equal jitter.
		for i := 1; i < len(calls); i++ {
			ceiling := min(maxBackoff, recordRetryBase<<(i-1))
			if g := calls[i].Sub(calls[i-1]); g < ceiling/2 || g > ceiling {
				t.Errorf("retry %d came %v after the failure, want within [%v, %v]", i, g, ceiling/2, ceiling)
			}
		}
	})
}

func TestNewValidatesRecordFuncOptions(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	for name, fn := range map[string]func(*Options){
		"negative Concurrency":        func(o *Options) { o.Concurrency = -1 },
		"unknown Ordering":            func(o *Options) { o.Ordering = Ordering(7) },
		"negative CheckpointInterval": func(o *Options) { o.CheckpointInterval = -time.Second },
	} {
		if _, err := New(fake, stream, checkpoint.NewMemory(), NewRecordFunc(func(context.Context, Record) error { return nil }), fn); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: New returned %v, want ErrInvalidOptions", name, err)
		}
	}
	c, err := New(fake, stream, checkpoint.NewMemory(), NewRecordFunc(func(context.Context, Record) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.Concurrency != 1 || c.opts.Ordering != OrderByPartitionKey || c.opts.CheckpointInterval != DefaultCheckpointInterval {
		t.Errorf("defaults: Concurrency %d, Ordering %v, CheckpointInterval %v", c.opts.Concurrency, c.opts.Ordering, c.opts.CheckpointInterval)
	}
}

// The failure policy applies per record: a record that keeps failing is given up after
// MaxRetries retries and handed to OnFailure (retried until OnFailure accepts it); then
// the later records of its key run and the checkpoint passes it.
func TestRecordFuncGivesAFailingRecordUpToOnFailureAndItsKeyGoesOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		all := putRecords(t, fake, stream, 3, 90, "a")
		const bad = "a-k001/0"
		want := slices.DeleteFunc(slices.Clone(all), func(d string) bool { return d == bad })
		r := newRecorder()
		h := newKeyedHandler(r, "w1")
		var calls atomic.Int32
		fn := func(ctx context.Context, rec Record) error {
			if string(rec.Data) == bad {
				calls.Add(1)
				return errors.New("malformed payload")
			}
			return h.handle(ctx, rec)
		}
		var mu sync.Mutex
		var failed []FailedRecord
		var handOvers int
		store := checkpoint.NewMemory()
		c, err := New(fake, stream, store, NewRecordFunc(fn), fastOptions(t, "w1", func(o *Options) {
			o.Concurrency = 4
			o.MaxRetries = 2
			o.OnFailure = func(ctx context.Context, f FailedRecord) error {
				mu.Lock()
				defer mu.Unlock()
				if handOvers++; handOvers == 1 {
					return errors.New("dead-letter queue unavailable") // the hand-over is retried
				}
				failed = append(failed, f)
				return nil
			}
		})...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 20*time.Second, "every other record", func() bool { return r.distinct() >= len(want) })
		r.waitFor(t, 10*time.Second, "OnFailure accepting the record", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(failed) == 1
		})
		// The watermark passes the given-up record: the next checkpoint, at most one
		// CheckpointInterval later, is at the last record.
		time.Sleep(DefaultCheckpointInterval)
		synctest.Wait()
		leases, err := store.ListLeases(context.Background())
		if last := r.lastPositions()["shardId-000000000000"]; err != nil || len(leases) != 1 || leases[0].Checkpoint.Compare(last) != 0 {
			t.Errorf("one CheckpointInterval after the record was given up: leases %v (%v), want the checkpoint at the last record %s", leases, err, last)
		}
		stop()
		r.checkComplete(t, want)
		if n := calls.Load(); n != 3 {
			t.Errorf("%s was delivered %d times, want 3 (MaxRetries 2)", bad, n)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(failed) != 1 {
			t.Fatalf("OnFailure accepted %d records, want 1: %v", len(failed), failed)
		}
		f := failed[0]
		if string(f.Record.Data) != bad || f.Reason != RetriesExhausted || f.Attempts != 3 || f.StreamName != stream ||
			f.ShardID != "shardId-000000000000" || f.Err == nil || f.Err.Error() != "malformed payload" {
			t.Errorf("FailedRecord %+v, want %s, RetriesExhausted after 3 attempts with the handler's error", f, bad)
		}
	})
}

// A record older than MaxRecordAge is given up before it is delivered; the others are
// handled.
func TestRecordFuncGivesUpRecordsOlderThanMaxRecordAge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		recs := []Record{
			{PartitionKey: "k", SequenceNumber: "1", Data: []byte("old"), ApproximateArrivalTimestamp: now.Add(-2 * time.Minute)},
			{PartitionKey: "k", SequenceNumber: "2", Data: []byte("new"), ApproximateArrivalTimestamp: now},
		}
		var handled []string
		var mu sync.Mutex
		p := NewRecordFunc(func(ctx context.Context, r Record) error {
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, string(r.Data))
			return nil
		})("shard-0").(*recordFuncProcessor)
		cfg := defaultRecordFuncConfig()
		cfg.policy = failurePolicy{maxRetries: -1, maxAge: time.Minute}
		var failed []FailedRecord
		cfg.giveUp = func(f FailedRecord) bool { failed = append(failed, f); return true }
		p.configure(cfg)
		cp := &nopCheckpointer{}
		if err := p.ProcessRecords(t.Context(), ProcessRecordsInput{Records: recs, Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		if err := p.ShardEnded(t.Context(), ShardEndedInput{Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(handled, []string{"new"}) {
			t.Errorf("handled %v, want [new]", handled)
		}
		if len(failed) != 1 || string(failed[0].Record.Data) != "old" || failed[0].Reason != RecordTooOld || failed[0].Attempts != 0 || !errors.Is(failed[0].Err, ErrRecordTooOld) {
			t.Errorf("given up %+v, want the old record, RecordTooOld, 0 attempts, ErrRecordTooOld", failed)
		}
	})
}
