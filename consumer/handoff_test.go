package consumer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// steadyProducer puts batches of records every interval until stopped and returns what
// it put.
func steadyProducer(t *testing.T, client putter, stream, prefix string, perTick int, interval time.Duration) (stop func() []string) {
	t.Helper()
	done := make(chan struct{})
	var mu sync.Mutex
	var put []string
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			got := putRecords(t, client, stream, 32, perTick, fmt.Sprintf("%s%d", prefix, i))
			mu.Lock()
			put = append(put, got...)
			mu.Unlock()
		}
	})
	return func() []string {
		close(done)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		return put
	}
}

// handoffWorker is a consumer with its own metric reader.
type handoffWorker struct {
	id     string
	reader *sdkmetric.ManualReader
	stop   func()
}

func startHandoffWorker(t *testing.T, env putter, kc Client, stream string, store checkpoint.Store, r *recorder, id string, extra ...func(*Options)) *handoffWorker {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	defaults := func(o *Options) {
		o.MeterProvider = mp
		o.Balancing = BalanceByThroughput
		// An owner notices a handoff at its next scan: a handoff takes up to one interval
		// plus the batch in progress.
		o.LeaseTakeInterval = 500 * time.Millisecond
	}
	c, err := New(kc, stream, store, r.factory(id), testOptions(t, id, append([]func(*Options){defaults}, extra...)...)...)
	if err != nil {
		t.Fatal(err)
	}
	return &handoffWorker{id: id, reader: reader, stop: runConsumer(t, c)}
}

// handoffs returns the graceful and forced handoffs a worker completed and the longest.
func (w *handoffWorker) handoffs(t *testing.T) (graceful, forced int64, longest time.Duration) {
	ints, hists := collect(t, w.reader)
	for _, p := range hists["LeaseHandoff.Time"] {
		if m, ok := p.Max.Value(); ok {
			longest = max(longest, time.Duration(m*float64(time.Millisecond)))
		}
	}
	return sum(ints["LeaseHandoffs"], "result", "graceful"), sum(ints["LeaseHandoffs"], "result", "forced"), longest
}

func inHandoff(t *testing.T, store checkpoint.Store) bool {
	ls, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		if l.InHandoff() {
			return true
		}
	}
	return false
}

func lostEvents(r *recorder) []string {
	var lost []string
	for _, e := range r.eventsCopy() {
		if strings.HasPrefix(e, "lost ") {
			lost = append(lost, e)
		}
	}
	return lost
}

// TestScaleOutAndInUnderLoadProcessNothingTwice: one worker holds 8 shards under steady
// production; three more join (every lease they get is handed over gracefully), then
// three leave (graceful shutdown, release). The processor checkpoints after each batch
// and in ShutdownRequested, so no record may be delivered twice and none skipped.
func TestScaleOutAndInUnderLoadProcessNothingTwice(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 8)
	kc := env.Kinesis()
	store := newStore(t, env)
	r := newRecorder()
	workers := []*handoffWorker{startHandoffWorker(t, kc, kc, stream, store, r, "w1")}
	r.waitFor(t, 30*time.Second, "w1 holding every lease", func() bool { return leaseCounts(t, store)["w1"] == 8 })

	stopProducing := steadyProducer(t, kc, stream, "p", 64, 50*time.Millisecond)
	time.Sleep(2 * time.Second) // throughput reports reach the table (renewals every FailoverTime/3)
	for _, id := range []string{"w2", "w3", "w4"} {
		workers = append(workers, startHandoffWorker(t, kc, kc, stream, store, r, id))
	}
	r.waitFor(t, 60*time.Second, "every worker holding leases", func() bool {
		c := leaseCounts(t, store)
		return c["w1"] > 0 && c["w2"] > 0 && c["w3"] > 0 && c["w4"] > 0
	})
	time.Sleep(5 * time.Second) // balancing by throughput goes on under load
	r.waitFor(t, 30*time.Second, "no handoff in progress", func() bool { return !inHandoff(t, store) })
	t.Logf("after scale-out: %v", leaseCounts(t, store))
	for _, w := range workers[1:] {
		w.stop() // scale in: graceful shutdowns while records keep coming
	}
	r.waitFor(t, 30*time.Second, "w1 holding every lease again", func() bool { return leaseCounts(t, store)["w1"] == 8 })
	want := stopProducing()
	r.waitFor(t, 60*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)

	var graceful, forced int64
	var longest time.Duration
	for _, w := range workers {
		g, f, l := w.handoffs(t)
		graceful, forced, longest = graceful+g, forced+f, max(longest, l)
	}
	t.Logf("%d records, %d deliveries; %d graceful and %d forced handoffs, longest %v", len(want), r.total(), graceful, forced, longest)
	if dup := r.total() - r.distinct(); dup != 0 {
		t.Errorf("%d records delivered twice across a scale-out and a scale-in, want 0", dup)
	}
	if graceful == 0 || forced != 0 {
		t.Errorf("%d graceful and %d forced handoffs; want every scale-out move graceful", graceful, forced)
	}
	if longest > 2*time.Second {
		t.Errorf("the longest handoff took %v, want under 2s", longest)
	}
	if lost := lostEvents(r); len(lost) > 0 {
		t.Errorf("planned moves surfaced as lost leases: %v", lost)
	}
}

// TestRollingRestartUnderLoadProcessesNothingTwice restarts each of three workers in
// turn (a deployment) while records keep coming: every move is a release at shutdown or
// a graceful handoff, so nothing is delivered twice and nothing is skipped.
func TestRollingRestartUnderLoadProcessesNothingTwice(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 6)
	kc := env.Kinesis()
	store := newStore(t, env)
	r := newRecorder()
	workers := map[string]*handoffWorker{}
	for _, id := range []string{"a1", "b1", "c1"} {
		workers[id] = startHandoffWorker(t, kc, kc, stream, store, r, id)
	}
	r.waitFor(t, 30*time.Second, "every worker holding leases", func() bool {
		c := leaseCounts(t, store)
		return c["a1"] > 0 && c["b1"] > 0 && c["c1"] > 0 && c[""] == 0
	})
	stopProducing := steadyProducer(t, kc, stream, "p", 48, 50*time.Millisecond)
	time.Sleep(2 * time.Second)
	for _, pod := range []string{"a", "b", "c"} {
		old, next := pod+"1", pod+"2"
		workers[old].stop()
		workers[next] = startHandoffWorker(t, kc, kc, stream, store, r, next)
		r.waitFor(t, 30*time.Second, next+" holding leases", func() bool { return leaseCounts(t, store)[next] > 0 })
		time.Sleep(time.Second)
	}
	// Every new worker gets a share, at the latest once the leases moved by the restarts have
	// settled (FailoverTime to 2 x FailoverTime after their move), while records keep coming.
	restarted := time.Now()
	r.waitFor(t, 30*time.Second, "every new worker holding leases", func() bool {
		c := leaseCounts(t, store)
		return c["a2"] > 0 && c["b2"] > 0 && c["c2"] > 0
	})
	t.Logf("every new worker holds leases %v after the last restart: %v", time.Since(restarted).Round(10*time.Millisecond), leaseCounts(t, store))
	want := stopProducing()
	r.waitFor(t, 60*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	var graceful, forced int64
	var longest time.Duration
	for _, w := range workers {
		g, f, l := w.handoffs(t)
		graceful, forced, longest = graceful+g, forced+f, max(longest, l)
	}
	t.Logf("%d records, %d deliveries; %d graceful and %d forced handoffs, longest %v; leases %v", len(want), r.total(), graceful, forced, longest, leaseCounts(t, store))
	if dup := r.total() - r.distinct(); dup != 0 {
		t.Errorf("%d records delivered twice across a rolling restart, want 0", dup)
	}
	if forced != 0 || longest > 2*time.Second {
		t.Errorf("%d forced handoffs, longest %v; want none forced, each under 2s", forced, longest)
	}
	if lost := lostEvents(r); len(lost) > 0 {
		t.Errorf("planned moves surfaced as lost leases: %v", lost)
	}
}
