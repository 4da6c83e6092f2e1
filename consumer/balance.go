package consumer

import (
	"math/rand/v2"
	"slices"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// expiryTracker judges lease expiry the KCL way: by the local time at which this worker
// last saw each lease's counter change, never by timestamps in the table, so clock skew
// between workers does not matter.
type expiryTracker struct {
	failover time.Duration
	seen     map[string]seenLease
}

type seenLease struct {
	counter int64
	since   time.Time // local time the counter was first seen with this value
}

func newExpiryTracker(failover time.Duration) *expiryTracker {
	return &expiryTracker{failover: failover, seen: make(map[string]seenLease)}
}

// observe records a scan of the whole table taken at now.
func (t *expiryTracker) observe(leases []checkpoint.Lease, now time.Time) {
	present := make(map[string]struct{}, len(leases))
	for _, l := range leases {
		present[l.Key] = struct{}{}
		if s, ok := t.seen[l.Key]; !ok || s.counter != l.Counter {
			t.seen[l.Key] = seenLease{counter: l.Counter, since: now}
		}
	}
	for k := range t.seen {
		if _, ok := present[k]; !ok {
			delete(t.seen, k)
		}
	}
}

// expired reports whether l's counter has not changed for longer than the failover time.
// A lease never observed is not expired.
func (t *expiryTracker) expired(l checkpoint.Lease, now time.Time) bool {
	s, ok := t.seen[l.Key]
	return ok && s.counter == l.Counter && now.Sub(s.since) > t.failover
}

// takePlan is what one take cycle decided.
type takePlan struct {
	take    []checkpoint.Lease // unowned, expired or stale own leases, taken first
	steal   []checkpoint.Lease // leases of live, overloaded workers
	workers int                // live workers, this one included
	total   int                // leases of unfinished shards
	expired int                // leases judged expired
	target  int                // fair share of this worker
}

// planInput is the state a take cycle plans from.
type planInput struct {
	leases []checkpoint.Lease
	me     string
	// held counts the leases this worker processes (not lost).
	held int
	// busy reports leases this worker still has a shard goroutine for (held or winding
	// down after a loss); they are never taken again until it has exited.
	busy      func(key string) bool
	expired   func(checkpoint.Lease) bool
	maxLeases int
	rng       *rand.Rand
}

// planTakes decides which leases to take and steal. Unfinished leases (not at SHARD_END)
// are shared out: target = ceil(total / live workers), capped by maxLeases. All
// available leases (no owner, expired, or owned by this worker id without a running shard)
// are taken up to the target in one cycle, shards whose parents are finished first. If
// the worker is still below its target it steals, repeatedly from the most loaded worker,
// one lease at a time while that worker holds at least two more leases than this one, so
// a steal never makes the victim want to steal back. Only leases whose parents are
// finished are stolen: moving a lease that must wait anyway costs a handoff for nothing.
func planTakes(in planInput) takePlan {
	byKey := make(map[string]*checkpoint.Lease, len(in.leases))
	for i := range in.leases {
		byKey[in.leases[i].Key] = &in.leases[i]
	}
	processable := func(l *checkpoint.Lease) bool {
		for _, p := range l.ParentShardIDs {
			if pl, ok := byKey[p]; ok && !pl.Checkpoint.IsShardEnd() {
				return false
			}
		}
		return true
	}

	var plan takePlan
	var available []checkpoint.Lease
	owned := make(map[string][]checkpoint.Lease) // live owner -> its stealable leases
	counts := make(map[string]int)               // live owner -> leases held
	for i := range in.leases {
		l := &in.leases[i]
		if l.Checkpoint.IsShardEnd() {
			continue
		}
		plan.total++
		if in.busy(l.Key) {
			continue
		}
		switch {
		case l.Owner == "" || l.Owner == in.me:
			available = append(available, *l)
		case in.expired(*l):
			plan.expired++
			available = append(available, *l)
		default:
			counts[l.Owner]++
			if processable(l) {
				owned[l.Owner] = append(owned[l.Owner], *l)
			}
		}
	}
	plan.workers = len(counts) + 1
	plan.target = (plan.total + plan.workers - 1) / plan.workers
	if in.maxLeases > 0 {
		plan.target = min(plan.target, in.maxLeases)
	}
	mine := in.held
	need := plan.target - mine
	if need <= 0 {
		return plan
	}

	// Available leases: random order (so workers starting together spread out), those
	// that can be processed now first.
	in.rng.Shuffle(len(available), func(i, j int) { available[i], available[j] = available[j], available[i] })
	slices.SortStableFunc(available, func(a, b checkpoint.Lease) int {
		pa, pb := processable(&a), processable(&b)
		switch {
		case pa == pb:
			return 0
		case pa:
			return -1
		}
		return 1
	})
	n := min(need, len(available))
	plan.take = available[:n]
	mine += n
	need -= n

	for _, ls := range owned {
		in.rng.Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
	}
	for need > 0 {
		victim, most := "", 0
		for o, c := range counts {
			if len(owned[o]) > 0 && (c > most || c == most && o < victim) {
				victim, most = o, c
			}
		}
		if victim == "" || most < mine+2 {
			break
		}
		ls := owned[victim]
		plan.steal = append(plan.steal, ls[len(ls)-1])
		owned[victim] = ls[:len(ls)-1]
		counts[victim]--
		mine++
		need--
	}
	return plan
}
