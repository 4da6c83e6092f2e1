package consumer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

func TestExpiryTrackerJudgesByLocalTimeOfCounterChange(t *testing.T) {
	tr := newExpiryTracker(10 * time.Second)
	t0 := time.Unix(1000, 0)
	l := checkpoint.Lease{Key: "a", Owner: "w", Counter: 5}
	if tr.expired(l, t0) {
		t.Fatal("a lease never observed is expired")
	}
	tr.observe([]checkpoint.Lease{l}, t0)
	if tr.expired(l, t0.Add(10*time.Second)) {
		t.Error("expired after exactly the failover time; want only after longer")
	}
	if !tr.expired(l, t0.Add(10*time.Second+time.Millisecond)) {
		t.Error("not expired after the failover time without a counter change")
	}
	// The counter moved at t0+8s: the clock restarts.
	l.Counter = 6
	tr.observe([]checkpoint.Lease{l}, t0.Add(8*time.Second))
	if tr.expired(l, t0.Add(15*time.Second)) {
		t.Error("expired 7s after a counter change")
	}
	if !tr.expired(l, t0.Add(19*time.Second)) {
		t.Error("not expired 11s after the last counter change")
	}
	// A lease that disappears is forgotten.
	tr.observe(nil, t0.Add(20*time.Second))
	if len(tr.seen) != 0 {
		t.Errorf("tracker keeps %d vanished leases", len(tr.seen))
	}
}

// leasesOf builds leases owned as given: owners[i] owns n leases.
func leasesOf(owners map[string]int) []checkpoint.Lease {
	var out []checkpoint.Lease
	names := make([]string, 0, len(owners))
	for o := range owners {
		names = append(names, o)
	}
	slices.Sort(names)
	i := 0
	for _, o := range names {
		for range owners[o] {
			out = append(out, checkpoint.Lease{Key: fmt.Sprintf("shard-%03d", i), Owner: o, Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon})
			i++
		}
	}
	return out
}

func plan(leases []checkpoint.Lease, me string, expired map[string]bool, maxLeases int) takePlan {
	held := 0
	for _, l := range leases {
		if l.Owner == me && !l.Checkpoint.IsShardEnd() {
			held++
		}
	}
	return planTakes(planInput{
		leases:    leases,
		me:        me,
		held:      held,
		busy:      func(k string) bool { return false },
		expired:   func(l checkpoint.Lease) bool { return expired[l.Owner] },
		maxLeases: maxLeases,
		rng:       rand.New(rand.NewPCG(1, 2)),
	})
}

// planHeld plans takes for me over leases, those of me counted as held (busy).
func planHeld(leases []checkpoint.Lease, me string, expired map[string]bool) takePlan {
	held := map[string]bool{}
	for _, l := range leases {
		if l.Owner == me {
			held[l.Key] = true
		}
	}
	return planTakes(planInput{
		leases:  leases,
		me:      me,
		held:    len(held),
		busy:    func(k string) bool { return held[k] },
		expired: func(l checkpoint.Lease) bool { return expired[l.Owner] },
		rng:     rand.New(rand.NewPCG(1, 2)),
	})
}

func TestPlanTakesEverythingAvailableInOneCycle(t *testing.T) {
	p := plan(leasesOf(map[string]int{"": 100}), "me", nil, 0)
	if len(p.take) != 100 || len(p.steal) != 0 {
		t.Fatalf("took %d and stole %d of 100 unowned leases, want all 100 in one cycle", len(p.take), len(p.steal))
	}
	p = plan(leasesOf(map[string]int{"": 10}), "me", nil, 4)
	if len(p.take) != 4 {
		t.Errorf("MaxLeasesForWorker 4: took %d", len(p.take))
	}
}

func TestPlanTakesExpiredLeasesOfDeadWorkers(t *testing.T) {
	// dead holds 6 leases it no longer renews; alive holds 2: 8 leases, 2 live workers.
	p := planHeld(leasesOf(map[string]int{"dead": 6, "alive": 2}), "me", map[string]bool{"dead": true})
	if p.workers != 2 || p.target != 4 || p.expired != 6 {
		t.Fatalf("workers %d target %d expired %d, want 2, 4, 6", p.workers, p.target, p.expired)
	}
	if len(p.take) != 4 || len(p.steal) != 0 {
		t.Fatalf("took %d, stole %d; want 4 expired leases taken, nothing stolen", len(p.take), len(p.steal))
	}
	for _, l := range p.take {
		if l.Owner != "dead" {
			t.Errorf("took %s from %q", l.Key, l.Owner)
		}
	}
}

func TestPlanStealsFairShareFromOverloadedWorkersInOneCycle(t *testing.T) {
	// A new worker joins a fleet of 3 holding 100 leases unevenly.
	leases := leasesOf(map[string]int{"a": 60, "b": 30, "c": 10})
	p := planHeld(leases, "me", nil)
	if p.target != 25 {
		t.Fatalf("target %d, want 25", p.target)
	}
	from := map[string]int{}
	for _, l := range p.steal {
		from[l.Owner]++
	}
	if len(p.steal) != 25 {
		t.Fatalf("stole %d, want the whole fair share (25) in one cycle: %v", len(p.steal), from)
	}
	if from["c"] != 0 {
		t.Errorf("stole from c, which holds less than the fair share: %v", from)
	}
	// Stealing from the most loaded first leaves nobody at 2+ more than the thief.
	after := map[string]int{"a": 60 - from["a"], "b": 30 - from["b"], "c": 10, "me": 25}
	if after["a"] < 25 || after["b"] < 25 {
		t.Errorf("a victim was left below the thief: %v", after)
	}
}

func TestPlanDoesNotStealWhenBalanced(t *testing.T) {
	for _, tc := range []map[string]int{
		{"a": 3, "b": 3, "me": 2},
		{"a": 2, "b": 2, "me": 2},
		{"a": 2, "b": 1, "me": 1},
		{"a": 1, "b": 2, "me": 1}, // 4 leases, 3 workers: 2,1,1 is balanced
	} {
		p := planHeld(leasesOf(tc), "me", nil)
		if len(p.take)+len(p.steal) != 0 {
			t.Errorf("%v: took %d, stole %d; want nothing", tc, len(p.take), len(p.steal))
		}
	}
}

// TestPlanConvergesWithoutPingPong simulates workers running take cycles in turn and
// checks that the fleet reaches balance and then stays put.
func TestPlanConvergesWithoutPingPong(t *testing.T) {
	for _, tc := range []struct {
		shards  int
		workers int
	}{{8, 3}, {4, 3}, {100, 7}, {1000, 13}, {5, 8}} {
		t.Run(fmt.Sprintf("%d shards %d workers", tc.shards, tc.workers), func(t *testing.T) {
			leases := leasesOf(map[string]int{"w0": tc.shards})
			moves, rounds := 0, 0
			for ; rounds < 20; rounds++ {
				moved := 0
				for w := range tc.workers {
					me := fmt.Sprintf("w%d", w)
					p := planHeld(leases, me, nil)
					for _, l := range slices.Concat(p.take, p.steal) {
						i := slices.IndexFunc(leases, func(x checkpoint.Lease) bool { return x.Key == l.Key })
						leases[i].Owner = me
						moved++
					}
				}
				moves += moved
				if moved == 0 {
					break
				}
			}
			counts := map[string]int{}
			for _, l := range leases {
				counts[l.Owner]++
			}
			lo, hi := tc.shards, 0
			for w := range tc.workers {
				n := counts[fmt.Sprintf("w%d", w)]
				lo, hi = min(lo, n), max(hi, n)
			}
			if hi-lo > 1 {
				t.Errorf("not balanced after %d rounds: %v", rounds, counts)
			}
			// Each worker needs at most one round to take its share; one more to see
			// that nothing moves.
			if rounds > 2 {
				t.Errorf("took %d rounds of take cycles, want at most 2: %v", rounds, counts)
			}
			t.Logf("%d lease moves in %d rounds", moves, rounds)
		})
	}
}

func TestPlanPrefersProcessableLeasesAndNeverStealsBlockedOnes(t *testing.T) {
	leases := []checkpoint.Lease{
		{Key: "parent", Owner: "a", Counter: 1, Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "5"}},
		{Key: "child1", Owner: "a", Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon, ParentShardIDs: []string{"parent"}},
		{Key: "child2", Owner: "a", Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon, ParentShardIDs: []string{"parent"}},
		{Key: "other", Owner: "a", Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon},
		{Key: "done", Owner: "", Counter: 1, Checkpoint: checkpoint.PositionShardEnd},
	}
	p := planHeld(leases, "me", nil)
	if p.total != 4 {
		t.Errorf("total %d, want 4 (SHARD_END leases do not count)", p.total)
	}
	for _, l := range p.steal {
		if l.Key == "child1" || l.Key == "child2" {
			t.Errorf("stole %s, whose parent is not finished", l.Key)
		}
	}
	if len(p.steal) != 2 {
		t.Errorf("stole %v, want parent and other", p.steal)
	}
	// Available leases: the processable one first.
	leases = []checkpoint.Lease{
		{Key: "parent", Owner: "x", Counter: 1, Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "5"}},
		{Key: "child", Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon, ParentShardIDs: []string{"parent"}},
		{Key: "free", Counter: 1, Checkpoint: checkpoint.PositionTrimHorizon},
	}
	p = planTakes(planInput{leases: leases, me: "me", busy: func(string) bool { return false },
		expired: func(checkpoint.Lease) bool { return false }, maxLeases: 1, rng: rand.New(rand.NewPCG(3, 4))})
	if len(p.take) != 1 || p.take[0].Key != "free" {
		t.Errorf("took %v, want the processable lease first", p.take)
	}
}

func TestPlanRetakesOwnLeasesWithoutAShard(t *testing.T) {
	// After a restart with the same WorkerID the table still names this worker.
	p := planTakes(planInput{leases: leasesOf(map[string]int{"me": 3}), me: "me", busy: func(string) bool { return false },
		expired: func(checkpoint.Lease) bool { return false }, rng: rand.New(rand.NewPCG(1, 1))})
	if len(p.take) != 3 {
		t.Errorf("took %d of 3 leases owned by this worker id but not running here", len(p.take))
	}
}
