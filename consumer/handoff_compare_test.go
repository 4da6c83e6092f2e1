package consumer

import (
	"flag"
	"testing"
	"time"
)

var compareHandoff = flag.Bool("compare-handoff", false, "run TestScaleOutDuplicatesWithAndWithoutGracefulHandoff, a measurement (about a minute on the emulators)")

// TestScaleOutDuplicatesWithAndWithoutGracefulHandoff measures what graceful handoff
// saves: the scale-out of TestScaleOutAndInUnderLoadProcessNothingTwice (1 -> 4 workers
// under steady production) with a processor that works 200 ms per batch, so that a
// batch is in progress when a lease moves. With immediate moves (DisableGracefulHandoff,
// the KCL 2.x behaviour) the victim's batch cannot be checkpointed and the thief
// processes it again; with handoffs nothing is processed twice. Run with
// -compare-handoff (a measurement, not part of the suite):
//
//	go test -count=1 -v -run TestScaleOutDuplicatesWithAndWithoutGracefulHandoff ./consumer -compare-handoff
func TestScaleOutDuplicatesWithAndWithoutGracefulHandoff(t *testing.T) {
	if !*compareHandoff {
		t.Skip("a measurement: run with -compare-handoff")
	}
	for _, mode := range []struct {
		name      string
		immediate bool
	}{{"graceful", false}, {"immediate", true}} {
		t.Run(mode.name, func(t *testing.T) {
			env := emulators(t)
			stream := env.CreateStream(t, 8)
			kc := env.Kinesis()
			store := newStore(t, env)
			r := newRecorder()
			r.fail = func(string, []Record) error { time.Sleep(200 * time.Millisecond); return nil }
			opt := func(o *Options) { o.DisableGracefulHandoff = mode.immediate }
			workers := []*handoffWorker{startHandoffWorker(t, kc, kc, stream, store, r, "w1", opt)}
			r.waitFor(t, 30*time.Second, "w1 holding every lease", func() bool { return leaseCounts(t, store)["w1"] == 8 })
			stopProducing := steadyProducer(t, kc, stream, "p", 64, 50*time.Millisecond)
			time.Sleep(2 * time.Second)
			for _, id := range []string{"w2", "w3", "w4"} {
				workers = append(workers, startHandoffWorker(t, kc, kc, stream, store, r, id, opt))
			}
			r.waitFor(t, 60*time.Second, "every worker holding leases", func() bool {
				c := leaseCounts(t, store)
				return c["w1"] > 0 && c["w2"] > 0 && c["w3"] > 0 && c["w4"] > 0
			})
			time.Sleep(5 * time.Second)
			want := stopProducing()
			r.waitFor(t, 60*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
			r.checkComplete(t, want)
			dup := r.total() - r.distinct()
			t.Logf("%s moves: %d records, %d delivered twice, %d lost-lease events, leases %v",
				mode.name, len(want), dup, len(lostEvents(r)), leaseCounts(t, store))
			if !mode.immediate && dup != 0 {
				t.Errorf("%d records delivered twice with graceful handoff, want 0", dup)
			}
		})
	}
}
