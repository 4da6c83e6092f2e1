package sink

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
)

// memDest is an in-memory Destination whose writes can be made to fail.
type memDest struct {
	mu      sync.Mutex
	objects map[string][]byte
	puts    []string // names of successful puts, in order
	putAt   map[string]time.Time
	gets    int
	fail    func(name string, attempt int) error
	tries   map[string]int
}

func newMemDest() *memDest { return &memDest{objects: map[string][]byte{}, tries: map[string]int{}} }

func (d *memDest) Put(ctx context.Context, name string, body []byte) error {
	d.mu.Lock()
	d.tries[name]++
	n, fail := d.tries[name], d.fail
	d.mu.Unlock()
	if fail != nil {
		if err := fail(name, n); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.objects[name] = slices.Clone(body)
	if d.putAt == nil {
		d.putAt = map[string]time.Time{}
	}
	d.putAt[name] = time.Now()
	d.puts = append(d.puts, name)
	return nil
}

func (d *memDest) Get(_ context.Context, name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gets++
	b, ok := d.objects[name]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, name)
	}
	return slices.Clone(b), nil
}

func (d *memDest) setFail(f func(name string, attempt int) error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fail = f
}

// dataObjects returns the objects outside the state prefix, by name.
func (d *memDest) dataObjects() map[string][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]byte{}
	for k, v := range d.objects {
		if !strings.HasPrefix(k, DefaultStatePrefix) {
			out[k] = v
		}
	}
	return out
}

func (d *memDest) names() []string {
	return slices.Sorted(maps.Keys(d.dataObjects()))
}

// fakeCheckpointer records checkpoints.
type fakeCheckpointer struct {
	mu    sync.Mutex
	at    []checkpoint.ExtendedSequenceNumber
	fail  error
	ended bool
}

func (c *fakeCheckpointer) Checkpoint(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	return nil
}

func (c *fakeCheckpointer) CheckpointAt(_ context.Context, seq string, sub int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return c.fail
	}
	c.at = append(c.at, checkpoint.ExtendedSequenceNumber{SequenceNumber: seq, SubSequenceNumber: sub})
	return nil
}

func (c *fakeCheckpointer) last() checkpoint.ExtendedSequenceNumber {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.at) == 0 {
		return checkpoint.ExtendedSequenceNumber{}
	}
	return c.at[len(c.at)-1]
}

// seq returns the n-th test sequence number (56 digits, as Kinesis's).
func seq(n int) string {
	return fmt.Sprintf("49590338271490256608559692538361571095921575989136%06d", n)
}

var t0 = time.Date(2018, 8, 27, 10, 30, 0, 0, time.UTC)

// recs returns records from..to (inclusive) of shard-0 with data d<n>, arriving one
// second apart from t0.
func recs(from, to int, data func(n int) string) []consumer.Record {
	var out []consumer.Record
	for n := from; n <= to; n++ {
		d := fmt.Sprintf("d%d", n)
		if data != nil {
			d = data(n)
		}
		out = append(out, consumer.Record{
			ShardID: "shardId-000000000000", PartitionKey: fmt.Sprintf("pk%d", n), SequenceNumber: seq(n),
			Data: []byte(d), ApproximateArrivalTimestamp: t0.Add(time.Duration(n) * time.Second),
		})
	}
	return out
}

const testShard = "shardId-000000000000"

// newTestProcessor returns an initialized processor of a sink on dest.
func newTestProcessor(t *testing.T, dest Destination, start checkpoint.ExtendedSequenceNumber, optFns ...func(*Options)) *processor {
	t.Helper()
	fns := append([]func(*Options){func(o *Options) {
		o.StreamName = "s"
		o.Prefix = "p/"
		o.BufferInterval = time.Minute
		o.Logger = discardLogger
	}}, optFns...)
	s, err := newSink(dest, fns)
	if err != nil {
		t.Fatal(err)
	}
	p := s.newProcessor(testShard)
	if err := p.Initialize(context.Background(), consumer.InitializeInput{ShardID: testShard, Checkpoint: start}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// recordsIn returns the records held by the objects (newline-delimited), and fails the test
// if one appears twice.
func recordsIn(t *testing.T, objects map[string][]byte) []string {
	t.Helper()
	seen := map[string]string{}
	var all []string
	for name, body := range objects {
		for _, l := range strings.Split(strings.TrimSuffix(string(body), "\n"), "\n") {
			if l == "" {
				continue
			}
			if prev, dup := seen[l]; dup {
				t.Errorf("record %q is in %s and in %s", l, prev, name)
			}
			seen[l] = name
			all = append(all, l)
		}
	}
	sort.Strings(all)
	return all
}

var errInjected = errors.New("injected failure")

func errorsIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
