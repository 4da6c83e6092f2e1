package consumer

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// The figures of the consumer, measured with the default options against the in-memory
// fake and store, logged only (never asserted: timings depend on the machine). Run with
//
//	CONSUMER_FIGURES=1 go test -run TestFigure -v ./consumer/
func figures(t *testing.T) {
	if os.Getenv("CONSUMER_FIGURES") == "" {
		t.Skip("set CONSUMER_FIGURES=1 to measure the figures")
	}
}

func quietOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return append([]func(*Options){func(o *Options) {
		o.WorkerID = worker
		o.InitialPosition = InitialPositionTrimHorizon
		o.Logger = testLogger(t, worker)
	}}, extra...)
}

// TestFigureBalanceTimeWhenAWorkerJoins: three workers share the shards, a fourth joins;
// the time until every worker holds its fair share (floor or ceil), by shard count.
func TestFigureBalanceTimeWhenAWorkerJoins(t *testing.T) {
	figures(t)
	for _, shards := range []int32{8, 64, 256} {
		fake, stream := newFakeStream(t, shards)
		store := checkpoint.NewMemory()
		noop := NewFunc(func(context.Context, string, []Record) error { return nil })
		var stops []func()
		for _, id := range []string{"w1", "w2", "w3"} {
			c, err := New(fake, stream, store, noop, quietOptions(t, id)...)
			if err != nil {
				t.Fatal(err)
			}
			stops = append(stops, runConsumer(t, c))
		}
		r := newRecorder()
		r.waitFor(t, 60*time.Second, "three balanced workers", func() bool { return balanced(leaseCounts(t, store), "w1", "w2", "w3") })
		c, err := New(fake, stream, store, noop, quietOptions(t, "w4")...)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stops = append(stops, runConsumer(t, c))
		r.waitFor(t, 60*time.Second, "four balanced workers", func() bool { return balanced(leaseCounts(t, store), "w1", "w2", "w3", "w4") })
		t.Logf("%d shards: a joining worker has its fair share after %v (FailoverTime %v, LeaseTakeInterval %v): %v",
			shards, time.Since(start).Round(time.Millisecond), DefaultFailoverTime, DefaultLeaseTakeInterval, leaseCounts(t, store))
		for _, stop := range stops {
			stop()
		}
	}
}

// TestFigureTakeoverTimes: the time until the survivor holds every lease after the other
// worker shut down gracefully, and after it stopped renewing (a crash, simulated by
// cutting it off from the lease table), with the default options.
func TestFigureTakeoverTimes(t *testing.T) {
	figures(t)
	for _, crash := range []bool{false, true} {
		fake, stream := newFakeStream(t, 8)
		mem := checkpoint.NewMemory()
		cut := newCountingStore(mem)
		noop := NewFunc(func(context.Context, string, []Record) error { return nil })
		c1, err := New(fake, stream, cut, noop, quietOptions(t, "w1", func(o *Options) { o.Logger = testLogger(t, "w1").With() })...)
		if err != nil {
			t.Fatal(err)
		}
		stop1 := runConsumer(t, c1)
		c2, err := New(fake, stream, mem, noop, quietOptions(t, "w2")...)
		if err != nil {
			t.Fatal(err)
		}
		stop2 := runConsumer(t, c2)
		r := newRecorder()
		r.waitFor(t, 60*time.Second, "balanced", func() bool { return balanced(leaseCounts(t, mem), "w1", "w2") })
		start := time.Now()
		if crash {
			cut.mu.Lock()
			cut.fail = func(op, key string) error { return fmt.Errorf("%w: cut off", errInjected) }
			cut.mu.Unlock()
		} else {
			stop1()
		}
		r.waitFor(t, 60*time.Second, "w2 holding every lease", func() bool { return leaseCounts(t, mem)["w2"] == 8 })
		kind := "graceful shutdown"
		if crash {
			kind = "crash (renewals stop)"
		}
		t.Logf("after a %s: the survivor holds every lease %v later (FailoverTime %v, LeaseTakeInterval %v)",
			kind, time.Since(start).Round(time.Millisecond), DefaultFailoverTime, DefaultLeaseTakeInterval)
		stop2()
		stop1()
	}
}

// TestFigureLeaseTableRequests counts the Store calls (each one DynamoDB request, a scan
// one per 1 MB page) of two workers holding 8 leases for a minute with the defaults and a
// processor that checkpoints every batch of an idle stream (so none).
func TestFigureLeaseTableRequests(t *testing.T) {
	figures(t)
	fake, stream := newFakeStream(t, 8)
	cs := newCountingStore(checkpoint.NewMemory())
	noop := NewFunc(func(context.Context, string, []Record) error { return nil })
	for _, id := range []string{"w1", "w2"} {
		c, err := New(fake, stream, cs, noop, quietOptions(t, id)...)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
	}
	r := newRecorder()
	r.waitFor(t, 60*time.Second, "balanced", func() bool { return balanced(leaseCounts(t, cs.Store), "w1", "w2") })
	before, _ := cs.snapshot()
	const window = 60 * time.Second
	time.Sleep(window) // a measurement over a fixed window, not a synchronisation
	after, _ := cs.snapshot()
	total := 0
	for op, n := range after {
		d := n - before[op]
		total += d
		t.Logf("%-16s %4d calls/min (%.1f per lease)", op, d, float64(d)/8)
	}
	t.Logf("total %d calls/min for 8 leases and 2 workers: %.1f DynamoDB requests per lease per minute (+ one Checkpoint per checkpointed batch)",
		total, float64(total)/8)
}
