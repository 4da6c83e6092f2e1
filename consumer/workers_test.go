package consumer

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

func TestOneWorkerReadsEveryShardFromTrimHorizon(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	kc := env.Kinesis()
	want := putRecords(t, kc, stream, 16, 400, "a")
	store := newStore(t, env)
	r := newRecorder()
	c, err := New(kc, stream, store, r.factory("w1"), testOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 60*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	// Records put while running are delivered too.
	more := putRecords(t, kc, stream, 16, 100, "b")
	want = append(want, more...)
	r.waitFor(t, 60*time.Second, "records put while running", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	if got := r.total(); got != len(want) {
		t.Errorf("delivered %d records, want exactly %d (no failover happened, so no re-delivery)", got, len(want))
	}

	// Every shard was checkpointed at its last record and released on shutdown.
	leases, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(leases) != 4 {
		t.Fatalf("got %d leases, want 4", len(leases))
	}
	last := map[string]checkpoint.ExtendedSequenceNumber{}
	r.mu.Lock()
	for _, d := range r.deliveries {
		last[d.shard] = checkpoint.ExtendedSequenceNumber{SequenceNumber: d.rec.SequenceNumber, SubSequenceNumber: d.rec.SubSequenceNumber}
	}
	r.mu.Unlock()
	for _, l := range leases {
		if l.Owner != "" {
			t.Errorf("lease %s still owned by %q after Run returned", l.Key, l.Owner)
		}
		if l.Checkpoint != last[l.Key] {
			t.Errorf("lease %s checkpoint %s, want the last delivered record %s", l.Key, l.Checkpoint, last[l.Key])
		}
	}
	for _, e := range []string{"shutdown w1 shardId-000000000000", "init w1 shardId-000000000003 at TRIM_HORIZON"} {
		if !r.hasEvent(e) {
			t.Errorf("missing event %q in %v", e, r.eventsCopy())
		}
	}
}

// balanced reports whether the unfinished leases are all owned, by exactly the given
// workers, each holding between floor and ceil of the fair share.
func balanced(counts map[string]int, workers ...string) bool {
	total := 0
	for _, n := range counts {
		total += n
	}
	if counts[""] > 0 || len(counts) != len(workers) {
		return false
	}
	lo, hi := total/len(workers), (total+len(workers)-1)/len(workers)
	for _, w := range workers {
		if counts[w] < lo || counts[w] > hi {
			return false
		}
	}
	return true
}

func TestThreeWorkersShareEightShardsWithoutGaps(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 8)
	kc := env.Kinesis()
	store := newStore(t, env)
	r := newRecorder()
	want := putRecords(t, kc, stream, 32, 400, "a")

	newWorker := func(id string) *Consumer {
		c, err := New(kc, stream, store, r.factory(id), testOptions(t, id)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	runConsumer(t, newWorker("w1"))
	r.waitFor(t, 30*time.Second, "w1 holding every lease", func() bool { return leaseCounts(t, store)["w1"] == 8 })

	// Two workers join while records keep coming.
	start := time.Now()
	runConsumer(t, newWorker("w2"))
	runConsumer(t, newWorker("w3"))
	want = append(want, putRecords(t, kc, stream, 32, 200, "b")...)
	r.waitFor(t, 30*time.Second, "balanced leases", func() bool { return balanced(leaseCounts(t, store), "w1", "w2", "w3") })
	t.Logf("balanced %v after two workers joined (FailoverTime 3s): %v", time.Since(start).Round(10*time.Millisecond), leaseCounts(t, store))
	want = append(want, putRecords(t, kc, stream, 32, 200, "c")...)
	r.waitFor(t, 60*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	if !balanced(leaseCounts(t, store), "w1", "w2", "w3") {
		t.Errorf("leases not balanced at the end: %v", leaseCounts(t, store))
	}
	t.Logf("%d records delivered %d times", len(want), r.total())
}

func TestGracefulShutdownHandsLeasesOverAtOnce(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	kc := env.Kinesis()
	store := newStore(t, env)
	r := newRecorder()
	want := putRecords(t, kc, stream, 16, 200, "a")
	// A long failover time: a takeover within a few seconds can only come from the release.
	slow := func(o *Options) { o.FailoverTime = 30 * time.Second; o.LeaseTakeInterval = time.Second }
	newWorker := func(id string) *Consumer {
		c, err := New(kc, stream, store, r.factory(id), testOptions(t, id, slow)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stop1 := runConsumer(t, newWorker("w1"))
	runConsumer(t, newWorker("w2"))
	r.waitFor(t, 30*time.Second, "balanced leases", func() bool { return balanced(leaseCounts(t, store), "w1", "w2") })
	r.waitFor(t, 30*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	// w1 processes every lease it holds: none is still being handed over to it (a thief
	// stopped while it waits has no processor to ask for a checkpoint).
	r.waitFor(t, 30*time.Second, "w1 processing its leases", func() bool { return processingAll(t, store, r, "w1") })

	before := r.total()
	stopped := time.Now()
	stop1()
	if !r.hasEvent("shutdown w1") {
		t.Errorf("w1's processors did not get ShutdownRequested: %v", r.eventsCopy())
	}
	r.waitFor(t, 10*time.Second, "w2 holding every lease", func() bool { return leaseCounts(t, store)["w2"] == 4 })
	t.Logf("w2 holds every lease %v after w1's Run returned (FailoverTime 30s, LeaseTakeInterval 1s)", time.Since(stopped).Round(10*time.Millisecond))

	more := putRecords(t, kc, stream, 16, 100, "b")
	want = append(want, more...)
	r.waitFor(t, 30*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	// w1 checkpointed on shutdown, so w2 re-delivers nothing.
	if got := r.total() - before; got != len(more) {
		t.Errorf("%d deliveries after the handover, want %d: a graceful handover re-delivers nothing", got, len(more))
	}
}

func TestKilledWorkersShardsResumeFromTheirCheckpointsElsewhere(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	kc := env.Kinesis()
	store := newStore(t, env)
	if err := store.EnsureTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(detachedProxy(env.DynamoDBEndpoint))
	defer proxy.Close()
	r := newRecorder()
	const failover = 3 * time.Second
	h := startHelper(t, helperConfig{KinesisEndpoint: env.KinesisEndpoint, DynamoDBEndpoint: proxy.URL, Stream: stream,
		Table: store.TableName(), Worker: "crasher", FailoverTime: failover}, r)
	want := putRecords(t, kc, stream, 16, 200, "a")
	r.waitFor(t, 60*time.Second, "the helper process holding every lease", func() bool { return leaseCounts(t, store)["crasher"] == 4 })

	c, err := New(kc, stream, store, r.factory("w2"), testOptions(t, "w2", func(o *Options) { o.FailoverTime = failover })...)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	r.waitFor(t, 30*time.Second, "balanced leases", func() bool { return balanced(leaseCounts(t, store), "crasher", "w2") })
	want = append(want, putRecords(t, kc, stream, 16, 200, "b")...)
	r.waitFor(t, 60*time.Second, "records delivered", func() bool { return r.distinct() >= len(want)-100 })

	killed := time.Now()
	h.killHard(t)
	// A write the worker sent before it died may still land (the proxy forwards it
	// detached, as a network would): Close waits for those, so the checkpoints read
	// next are the last ones the killed worker made.
	proxy.Close()
	orphaned := map[string]checkpoint.ExtendedSequenceNumber{}
	leases, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leases {
		if l.Owner == "crasher" {
			orphaned[l.Key] = l.Checkpoint
		}
	}
	want = append(want, putRecords(t, kc, stream, 16, 200, "c")...)
	r.waitFor(t, 60*time.Second, "w2 holding every lease", func() bool { return leaseCounts(t, store)["w2"] == 4 })
	t.Logf("w2 holds the killed worker's %d leases %v after SIGKILL (FailoverTime %v)", len(orphaned), time.Since(killed).Round(10*time.Millisecond), failover)
	r.waitFor(t, 60*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	for shard, cp := range orphaned {
		if e := fmt.Sprintf("init w2 %s at %s", shard, cp); !r.hasEvent(e) {
			t.Errorf("w2 did not resume %s from the killed worker's checkpoint: want event %q in %v", shard, e, r.eventsCopy())
		}
	}
}

// processingAll reports whether worker holds leases, none of them in a handoff, and has
// initialized a processor for each.
func processingAll(t *testing.T, store checkpoint.Store, r *recorder, worker string) bool {
	ls, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	held := 0
	for _, l := range ls {
		if l.Owner != worker {
			continue
		}
		if l.InHandoff() || !r.hasEvent("init "+worker+" "+l.Key+" ") {
			return false
		}
		held++
	}
	return held > 0
}
