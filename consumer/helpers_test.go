package consumer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// testLogger returns a logger for consumers in tests: warnings and errors go to the test
// log (set CONSUMER_TEST_LOG=debug|info for more).
func testLogger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelWarn
	switch os.Getenv("CONSUMER_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(&testWriter{t: t, prefix: name + ": "}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	done   bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// delivery is one record as a processor saw it.
type delivery struct {
	worker string
	shard  string
	rec    Record
	order  int // global delivery order
}

// recorder collects what every test processor sees, across workers.
type recorder struct {
	mu         sync.Mutex
	deliveries []delivery
	first      map[string]int // data -> index of first delivery
	events     []string
	violations []string
	changed    chan struct{}
	// checkpoint makes processors checkpoint after every batch (default true).
	noCheckpoint bool
	// fail, when set, is consulted before each batch: a non-nil error is returned.
	fail func(shard string, recs []Record) error
}

func newRecorder() *recorder {
	return &recorder{first: make(map[string]int), changed: make(chan struct{}, 1)}
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

func (r *recorder) event(format string, args ...any) {
	r.mu.Lock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) hasEvent(prefix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func (r *recorder) eventsCopy() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

func (r *recorder) add(worker, shard string, recs []Record) {
	r.mu.Lock()
	for _, rec := range recs {
		d := delivery{worker: worker, shard: shard, rec: rec, order: len(r.deliveries)}
		if _, ok := r.first[string(rec.Data)]; !ok {
			r.first[string(rec.Data)] = len(r.deliveries)
		}
		r.deliveries = append(r.deliveries, d)
	}
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) violate(format string, args ...any) {
	r.mu.Lock()
	r.violations = append(r.violations, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// distinct returns how many distinct records were delivered.
func (r *recorder) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.first)
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.deliveries)
}

// waitFor waits until cond holds, re-checking it whenever a processor records something
// and at least every 100ms (conditions on external state), failing after timeout.
func (r *recorder) waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-r.changed:
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
	}
}

// checkComplete asserts every record of want was delivered, that per processor instance
// delivery order was strictly increasing, and, per partition key, that first deliveries
// came in put order.
func (r *recorder) checkComplete(t testing.TB, want []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range r.violations {
		t.Error(v)
	}
	var missing []string
	for _, d := range want {
		if _, ok := r.first[d]; !ok {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d records never delivered (gaps), e.g. %v", len(missing), len(want), missing[:min(10, len(missing))])
	}
	// Per partition key, the first deliveries follow the put order.
	lastIdx := map[string]int{}
	lastOrder := map[string]int{}
	byOrder := slices.Clone(want)
	slices.SortFunc(byOrder, func(a, b string) int { return r.first[a] - r.first[b] })
	for _, d := range byOrder {
		pk, idx := splitData(d)
		if prev, ok := lastIdx[pk]; ok && idx < prev {
			t.Errorf("partition key %s: record %d first delivered (at %d) after record %d (at %d)", pk, idx, r.first[d], prev, lastOrder[pk])
		}
		lastIdx[pk] = idx
		lastOrder[pk] = r.first[d]
	}
	unknown := 0
	for d := range r.first {
		if !slices.Contains(want, d) {
			unknown++
		}
	}
	if unknown > 0 {
		t.Errorf("%d delivered records were never put", unknown)
	}
}

func splitData(d string) (string, int) {
	i := strings.LastIndexByte(d, '/')
	n, _ := strconv.Atoi(d[i+1:])
	return d[:i], n
}

// testProcessor records what it gets and checkpoints after each batch.
type testProcessor struct {
	r       *recorder
	worker  string
	shard   string
	last    checkpoint.ExtendedSequenceNumber
	started bool
}

func (r *recorder) factory(worker string) func(string) RecordProcessor {
	return func(shard string) RecordProcessor { return &testProcessor{r: r, worker: worker, shard: shard} }
}

func (p *testProcessor) Initialize(ctx context.Context, in InitializeInput) error {
	p.r.event("init %s %s at %s", p.worker, p.shard, in.Checkpoint)
	p.last = in.Checkpoint
	return nil
}

func (p *testProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if p.r.fail != nil {
		if err := p.r.fail(p.shard, in.Records); err != nil {
			return err
		}
	}
	for _, rec := range in.Records {
		pos := checkpoint.ExtendedSequenceNumber{SequenceNumber: rec.SequenceNumber, SubSequenceNumber: rec.SubSequenceNumber}
		if p.started || !p.last.IsSentinel() {
			if pos.Compare(p.last) <= 0 {
				p.r.violate("%s %s: record %s delivered after %s", p.worker, p.shard, pos, p.last)
			}
		}
		if rec.ShardID != p.shard {
			p.r.violate("record of shard %s delivered to the processor of %s", rec.ShardID, p.shard)
		}
		p.last, p.started = pos, true
	}
	p.r.add(p.worker, p.shard, in.Records)
	if p.r.noCheckpoint {
		return nil
	}
	if err := in.Checkpointer.Checkpoint(ctx); err != nil && !errors.Is(err, ErrLeaseLost) && ctx.Err() == nil {
		return err
	}
	return nil
}

func (p *testProcessor) LeaseLost(ctx context.Context, in LeaseLostInput) {
	p.r.event("lost %s %s", p.worker, p.shard)
}

func (p *testProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	p.r.event("ended %s %s children=%v", p.worker, p.shard, in.ChildShardIDs)
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *testProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	p.r.event("shutdown %s %s", p.worker, p.shard)
	return in.Checkpointer.Checkpoint(ctx)
}

// runConsumer runs c until the returned stop is called (or the test ends) and checks Run
// returned nil.
func runConsumer(t testing.TB, c *Consumer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testOptions are fast settings for tests.
func testOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return append([]func(*Options){func(o *Options) {
		o.WorkerID = worker
		o.InitialPosition = InitialPositionTrimHorizon
		o.FailoverTime = 3 * time.Second
		o.IdleTimeBetweenReads = 100 * time.Millisecond
		o.ParentShardPollInterval = 200 * time.Millisecond
		o.MaxRetryBackoff = 500 * time.Millisecond
		o.Logger = testLogger(t, worker)
	}}, extra...)
}

// putter is *kinesis.Client or *kinesisfake.Kinesis.
type putter interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// putRecords puts n records spread over keys partition keys and returns their data
// ("<pk>/<index within pk>"), in put order per key.
func putRecords(t testing.TB, client putter, stream string, keys, n int, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	counters := make([]int, keys)
	for start := 0; start < n; start += 500 {
		var entries []types.PutRecordsRequestEntry
		var datas []string
		for i := start; i < min(n, start+500); i++ {
			k := i % keys
			pk := fmt.Sprintf("%s-k%03d", prefix, k)
			d := fmt.Sprintf("%s/%d", pk, counters[k])
			counters[k]++
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: []byte(d)})
			datas = append(datas, d)
		}
		for len(entries) > 0 {
			resp, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
			if err != nil {
				t.Fatalf("PutRecords: %v", err)
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range resp.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
				} else {
					out = append(out, datas[i])
				}
			}
			if len(retry) > 0 {
				// Keep order per key simple: the emulator never fails entries, but be safe.
				t.Fatalf("PutRecords failed %d entries", len(retry))
			}
			entries = nil
		}
	}
	return out
}

// leaseCounts returns the number of unfinished leases per owner.
func leaseCounts(t testing.TB, store checkpoint.Store) map[string]int {
	t.Helper()
	ls, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatalf("ListLeases: %v", err)
	}
	m := map[string]int{}
	for _, l := range ls {
		if !l.Checkpoint.IsShardEnd() {
			m[l.Owner]++
		}
	}
	return m
}

// newStore returns the lease store integration tests use: DynamoDB on dynalite.
func newStore(t testing.TB, env *testbed.Env) *checkpoint.DynamoDB {
	t.Helper()
	s, err := checkpoint.NewDynamoDB(env.DynamoDB(func(o *dynamodb.Options) { o.HTTPClient = noAbortClient{o.HTTPClient} }), testbed.UniqueName("lease"), func(o *checkpoint.DynamoDBOptions) {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.DynamoDB().DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(s.TableName())})
	})
	return s
}

// noAbortClient lets every DynamoDB request run to its end even when its context is
// cancelled: dynalite crashes (an uncaught ECONNRESET) when a client aborts a request
// before the response, which a consumer shutting down does.
type noAbortClient struct{ next dynamodb.HTTPClient }

func (c noAbortClient) Do(req *http.Request) (*http.Response, error) {
	return c.next.Do(req.WithContext(context.WithoutCancel(req.Context())))
}

// emulators returns the local Kinesis and DynamoDB emulators; integration tests are
// skipped with -short.
func emulators(t testing.TB) *testbed.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the local emulators; skipped with -short")
	}
	return testbed.Get(t)
}
