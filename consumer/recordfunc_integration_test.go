package consumer

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// A worker handling records in parallel is killed with SIGKILL mid-stream: the worker
// that takes its shards over resumes at the low-watermark checkpoints, every record is
// handled (no gaps), each key's first handlings stay in order, and only records above
// the checkpoints are handled again.
func TestKilledParallelWorkerLeavesNoGaps(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 2)
	kc := env.Kinesis()
	store := newStore(t, env)
	if err := store.EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(detachedProxy(env.DynamoDBEndpoint))
	defer proxy.Close()
	r := newRecorder()
	const failover = 3 * time.Second
	// Put first, so that the worker is killed in the middle of handling them. 8 keys:
	// about 4 records in flight per shard, 1,600 records/s per shard.
	want := putRecords(t, kc, stream, 8, 4000, "a")
	h := startHelper(t, helperConfig{KinesisEndpoint: env.KinesisEndpoint, DynamoDBEndpoint: proxy.URL, Stream: stream,
		Table: store.TableName(), Worker: "crasher", FailoverTime: failover, Concurrency: 32}, r)
	r.waitFor(t, 60*time.Second, "the helper handling records", func() bool { return r.distinct() >= 1000 })
	h.killHard(t)
	handledBeforeKill := r.total()
	leases, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	orphaned := map[string]checkpoint.ExtendedSequenceNumber{}
	for _, l := range leases {
		if l.Owner == "crasher" {
			orphaned[l.Key] = l.Checkpoint
		}
	}
	if len(orphaned) != 2 {
		t.Fatalf("the killed worker held %d leases, want 2: %v", len(orphaned), leases)
	}

	kh := newKeyedHandler(r, "w2")
	c, err := New(kc, stream, store, NewRecordFunc(kh.handle), testOptions(t, "w2", func(o *Options) {
		o.FailoverTime = failover
		o.Concurrency = 32
	})...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 120*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)

	r.mu.Lock()
	defer r.mu.Unlock()
	redelivered := 0
	for _, d := range r.deliveries {
		if d.worker != "w2" {
			continue
		}
		pos := checkpoint.ExtendedSequenceNumber{SequenceNumber: d.rec.SequenceNumber, SubSequenceNumber: d.rec.SubSequenceNumber}
		if pos.Compare(orphaned[d.shard]) <= 0 {
			t.Errorf("w2 handled %s (%s) at or before the killed worker's checkpoint %s", d.rec.Data, pos, orphaned[d.shard])
		}
		if r.first[string(d.rec.Data)] != d.order {
			redelivered++
		}
	}
	t.Logf("SIGKILL after %d of %d records were handled; checkpoints then %v; %d records handled again by the new owner (done above the watermark or in flight)",
		handledBeforeKill, len(want), orphaned, redelivered)
}
