package consumer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

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

// syncBuffer is a bytes.Buffer safe for concurrent writes (log handlers of several
// goroutines).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startRecording runs a consumer of stream, worker w1, whose processors record into the
// returned recorder, until the returned stop is called (or the test ends).
func startRecording(t *testing.T, client Client, stream string, opts []func(*Options)) (*recorder, func()) {
	t.Helper()
	r := newRecorder()
	c, err := New(client, stream, checkpoint.NewMemory(), r.factory("w1"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r, runConsumer(t, c)
}

// consumeAll runs a recording consumer (startRecording) until every record of want was
// delivered, stops it and checks that each arrived, in order per key.
func consumeAll(t *testing.T, client Client, stream string, want []string, opts []func(*Options)) *recorder {
	t.Helper()
	r, stop := startRecording(t, client, stream, opts)
	r.waitFor(t, time.Minute, "all records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	return r
}
