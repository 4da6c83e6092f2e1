package consumer

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// freshWorkerSteals runs the first take cycle of a worker "fresh" that has just started
// (no history) against leases at now, after observing them as its scan does.
func freshWorkerSteals(tr *expiryTracker, leases []checkpoint.Lease, now time.Time) []string {
	tr.observe(leases, now)
	p := planTakes(planInput{
		leases:   slices.Clone(leases),
		me:       "fresh",
		busy:     func(string) bool { return false },
		expired:  func(checkpoint.Lease) bool { return false },
		settling: func(l checkpoint.Lease) bool { return tr.settling(l, now) },
		rng:      rand.New(rand.NewPCG(1, 2)),
	})
	var keys []string
	for _, l := range p.steal {
		keys = append(keys, l.Key)
	}
	return keys
}

func TestAFreshWorkerDoesNotStealALeaseTheTableSaysJustMoved(t *testing.T) {
	// w1 holds two leases that moved to it (a failover) n counter increments ago, as the
	// table records it. A worker that starts now has seen nothing of that move.
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name  string
		since int64 // OwnerSinceCounter; the leases' Counter is 20
		steal bool
	}{
		{"moved by this counter", 20, false},
		{"moved 1 renewal ago", 19, false},
		{"moved 2 renewals ago", 18, false},
		{"moved 3 renewals ago: settled", 17, true},
		{"moved long ago", 3, true},
		{"never moved, or written by the KCL", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leases := leasesOf(map[string]int{"w1": 2})
			for i := range leases {
				leases[i].Counter, leases[i].OwnerSinceCounter = 20, tc.since
			}
			stolen := freshWorkerSteals(newExpiryTracker(10*time.Second), leases, t0)
			if tc.steal && len(stolen) != 1 {
				t.Fatalf("stole %v; want one settled lease at once (ceil(2/2) = 1)", stolen)
			}
			if !tc.steal && len(stolen) != 0 {
				t.Fatalf("stole %v, which moved %d counter increments ago (settling: fewer than %d)", stolen, 20-tc.since, renewalsPerFailover)
			}
		})
	}
}

func TestATableMoveSettlesOnTheObserversClockToo(t *testing.T) {
	// The fresh worker first sees s0 and s1 one increment after they moved to w1; the
	// processor then checkpoints after every batch, so the counter passes the settling
	// count within a second. The lease is still left for FailoverTime after the worker
	// first saw the move.
	const failover = 10 * time.Second
	t0 := time.Unix(1000, 0)
	tr := newExpiryTracker(failover)
	leases := leasesOf(map[string]int{"w1": 2})
	for i := range leases {
		leases[i].Counter, leases[i].OwnerSinceCounter = 8, 7
	}
	if s := freshWorkerSteals(tr, leases, t0); len(s) != 0 {
		t.Fatalf("stole %v at first sight of the move", s)
	}
	for i := range leases {
		leases[i].Counter += 10 // checkpoints
	}
	if s := freshWorkerSteals(tr, leases, t0.Add(time.Second)); len(s) != 0 {
		t.Fatalf("stole %v one second after the move, its counter %d increments on", s, leases[0].Counter-leases[0].OwnerSinceCounter)
	}
	if s := freshWorkerSteals(tr, leases, t0.Add(failover-time.Millisecond)); len(s) != 0 {
		t.Fatalf("stole %v just before FailoverTime", s)
	}
	if s := freshWorkerSteals(tr, leases, t0.Add(failover)); len(s) != 1 {
		t.Fatalf("stole %v FailoverTime after the move; want one lease", s)
	}

	// Another move later (a handoff ends) is timed again.
	leases[0].Owner, leases[0].Counter, leases[0].OwnerSinceCounter = "w3", 30, 30
	later := t0.Add(time.Minute)
	tr.observe(leases, later)
	leases[0].Counter = 40
	if !tr.settling(leases[0], later.Add(failover/2)) {
		t.Fatal("a second move of the same lease is not settling")
	}
	if tr.settling(leases[1], later.Add(failover/2)) {
		t.Fatal("a lease that did not move again is settling")
	}
}

func TestAReleasedLeaseRecordsNoMoveUntilTaken(t *testing.T) {
	// A lease released at a graceful shutdown carries the release's counter; nobody owns
	// it, so it is available, not settling. When a survivor takes it, the take is a
	// move: a worker starting then leaves it.
	t0 := time.Unix(1000, 0)
	leases := leasesOf(map[string]int{"": 1, "w1": 1})
	leases[0].Counter, leases[0].OwnerSinceCounter = 5, 5 // released
	tr := newExpiryTracker(10 * time.Second)
	tr.observe(leases, t0)
	p := planTakes(planInput{
		leases: slices.Clone(leases), me: "fresh",
		busy:     func(string) bool { return false },
		expired:  func(checkpoint.Lease) bool { return false },
		settling: func(l checkpoint.Lease) bool { return tr.settling(l, t0) },
		rng:      rand.New(rand.NewPCG(1, 2)),
	})
	if len(p.take) != 1 || p.take[0].Key != leases[0].Key {
		t.Fatalf("took %v; want the released lease %s", p.take, leases[0].Key)
	}
	leases[0].Owner, leases[0].Counter, leases[0].OwnerSinceCounter = "w1", 6, 6 // w1 took it
	if s := freshWorkerSteals(newExpiryTracker(10*time.Second), leases, t0.Add(time.Second)); slices.Contains(s, leases[0].Key) {
		t.Fatalf("stole %v, including the lease w1 took over after its release", s)
	}
}
