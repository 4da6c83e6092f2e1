package consumer

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
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
	counter    int64
	since      time.Time // local time the counter was first seen with this value
	owner      string
	lastOwner  string    // the last non-empty owner seen
	ownerSince time.Time // when the lease moved from one worker to another (zero: not seen)
	movedAt    int64     // the table's OwnerSinceCounter last seen on the owned lease
}

func newExpiryTracker(failover time.Duration) *expiryTracker {
	return &expiryTracker{failover: failover, seen: make(map[string]seenLease)}
}

// observe records a scan of the whole table taken at now.
func (t *expiryTracker) observe(leases []checkpoint.Lease, now time.Time) {
	present := make(map[string]struct{}, len(leases))
	for _, l := range leases {
		present[l.Key] = struct{}{}
		s, ok := t.seen[l.Key]
		switch {
		case !ok:
			// First sight: the owner's age is unknown, so it counts as settled.
			s = seenLease{counter: l.Counter, since: now, owner: l.Owner, lastOwner: l.Owner}
		case s.owner != l.Owner:
			// A move is a new owner after another one (directly, or after a release); the
			// first owner of an unowned lease is not a move.
			if l.Owner != "" {
				if s.lastOwner != "" && s.lastOwner != l.Owner {
					s.ownerSince = now
				}
				s.lastOwner = l.Owner
			}
			s.owner = l.Owner
		}
		// A move recorded in the table is timed on this worker's clock when first seen
		// while it is settling by the table's counters: a worker that starts after the move,
		// or sees the counter advance fast (a processor checkpointing after every batch),
		// still leaves the lease for FailoverTime.
		if l.Owner != "" && l.OwnerSinceCounter != s.movedAt {
			if movedRecently(l) {
				s.ownerSince = now
			}
			s.movedAt = l.OwnerSinceCounter
		}
		if s.counter != l.Counter {
			s.counter, s.since = l.Counter, now
		}
		t.seen[l.Key] = s
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

// movedWithin reports whether l moved from one worker to another less than d before now,
// as seen by this worker's scans: an owner change it saw, or a move recorded in the table
// (OwnerSinceCounter) that it first saw while the lease was settling (see observe).
func (t *expiryTracker) movedWithin(l checkpoint.Lease, now time.Time, d time.Duration) bool {
	s, ok := t.seen[l.Key]
	return ok && !s.ownerSince.IsZero() && now.Sub(s.ownerSince) < d
}

// settling reports whether l moved from one worker to another so recently that it is not
// stolen, so that a lease just taken over (a failover, a release at shutdown, a handoff)
// does not move twice in a row: by the table (movedRecently), which every worker sees,
// one that has just started included; or by this worker's clock, within the failover
// time of the move (movedWithin).
func (t *expiryTracker) settling(l checkpoint.Lease, now time.Time) bool {
	return movedRecently(l) || t.movedWithin(l, now, t.failover)
}

// movedRecently reports whether the table records that l moved to its owner fewer than
// renewalsPerFailover counter increments ago: its owner has not renewed it for
// FailoverTime since. Counters, not timestamps, so clock skew between workers does not
// matter. A lease without the record (OwnerSinceCounter 0: written by the KCL or an older
// version, or never moved) counts as settled.
func movedRecently(l checkpoint.Lease) bool {
	return l.OwnerSinceCounter > 0 && l.Counter-l.OwnerSinceCounter < renewalsPerFailover
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
	busy    func(key string) bool
	expired func(checkpoint.Lease) bool
	// settling reports leases whose owner changed moments ago (expiryTracker.settling);
	// they are not stolen. Nil: none.
	settling  func(checkpoint.Lease) bool
	maxLeases int
	// byThroughput balances steals by the leases' ThroughputKBps instead of their count
	// (BalanceByThroughput), when the table holds throughput reports.
	byThroughput bool
	rng          *rand.Rand
}

// planTakes decides which leases to take and steal. Unfinished leases (not at SHARD_END)
// are shared out: target = ceil(total / live workers), capped by maxLeases. All
// available leases (no owner, expired, or owned by this worker id without a running shard)
// are taken up to the target in one cycle, shards whose parents are finished first.
//
// Steals balance lease counts (planCountSteals) or, with byThroughput and throughput
// reports in the table, throughput (planThroughputSteals), after which the leases without
// traffic are balanced by count. Only leases whose parents are finished are stolen
// (moving a lease that must wait anyway costs a handoff for nothing), never one in a
// handoff or one whose owner changed moments ago (settling).
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
	load := make(map[string]float64)             // live owner -> KB/s of its leases
	var mine, total float64                      // KB/s: this worker's leases, all leases
	for i := range in.leases {
		l := &in.leases[i]
		if l.Checkpoint.IsShardEnd() {
			continue
		}
		plan.total++
		total += l.ThroughputKBps
		if in.busy(l.Key) {
			if l.Owner == in.me {
				mine += l.ThroughputKBps
			}
			continue
		}
		switch {
		case l.Owner == "" || l.Owner == in.me && !l.InHandoff():
			available = append(available, *l)
		case in.expired(*l):
			plan.expired++
			available = append(available, *l)
		default:
			counts[l.Owner]++
			load[l.Owner] += l.ThroughputKBps
			if processable(l) && !l.InHandoff() && (in.settling == nil || !in.settling(*l)) {
				owned[l.Owner] = append(owned[l.Owner], *l)
			}
		}
	}
	plan.workers = len(counts) + 1
	plan.target = (plan.total + plan.workers - 1) / plan.workers
	if in.maxLeases > 0 {
		plan.target = min(plan.target, in.maxLeases)
	}
	held := in.held
	if need := plan.target - held; need > 0 {
		plan.take = takeAvailable(in, available, processable, need)
		held += len(plan.take)
	}
	movable := func(checkpoint.Lease) bool { return true }
	if in.byThroughput && total > 0 {
		for _, l := range plan.take {
			mine += l.ThroughputKBps
		}
		room := -1
		if in.maxLeases > 0 {
			room = max(in.maxLeases-held, 0)
		}
		plan.steal = planThroughputSteals(load, owned, mine, room)
		for _, l := range plan.steal {
			counts[l.Owner]--
		}
		held += len(plan.steal)
		// Leases without traffic are then shared out by count, so that no worker idles
		// while another holds many; moving them cannot even out throughput, and moving
		// them costs nothing but a handoff.
		movable = func(l checkpoint.Lease) bool { return l.ThroughputKBps <= 0 }
	}
	plan.steal = append(plan.steal, planCountSteals(in, counts, owned, held, plan.target-held, movable)...)
	return plan
}

// planCountSteals steals up to need movable leases, repeatedly from the worker holding
// the most, one at a time while that worker holds at least two more leases than this one
// (have), so a steal never makes the victim want to steal back.
func planCountSteals(in planInput, counts map[string]int, owned map[string][]checkpoint.Lease, have, need int, movable func(checkpoint.Lease) bool) []checkpoint.Lease {
	if need <= 0 {
		return nil
	}
	candidates := make(map[string][]checkpoint.Lease, len(owned))
	for o, ls := range owned {
		for _, l := range ls {
			if movable(l) {
				candidates[o] = append(candidates[o], l)
			}
		}
		c := candidates[o]
		in.rng.Shuffle(len(c), func(i, j int) { c[i], c[j] = c[j], c[i] })
	}
	var steals []checkpoint.Lease
	for need > 0 {
		victim, most := "", 0
		for o, c := range counts {
			if len(candidates[o]) > 0 && (c > most || c == most && o < victim) {
				victim, most = o, c
			}
		}
		if victim == "" || most < have+2 {
			break
		}
		ls := candidates[victim]
		steals = append(steals, ls[len(ls)-1])
		candidates[victim] = ls[:len(ls)-1]
		counts[victim]--
		have++
		need--
	}
	return steals
}

// takeAvailable picks up to need of the available leases: in random order (so workers
// starting together spread out), those that can be processed now first.
func takeAvailable(in planInput, available []checkpoint.Lease, processable func(*checkpoint.Lease) bool, need int) []checkpoint.Lease {
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
	return available[:min(need, len(available))]
}

// stealGainFraction is the hysteresis of throughput balancing: a steal must lower the
// larger of the two workers' loads by more than this fraction of the victim's load.
// Measured rates fluctuate by some percent; a smaller margin would let that noise move
// leases back and forth. It is relative, so a stream of a few bytes per second balances
// as one of megabytes.
const stealGainFraction = 0.05

// planThroughputSteals picks leases to steal so that this worker's throughput (mine,
// KB/s) and the other live workers' (load) come closer. Victims are tried from the most
// loaded down; from a victim it steals the lease that lowers max(victim, this worker) the
// most, if that gain passes the hysteresis, then re-evaluates with the new loads. A lease
// without throughput (0 KB/s) is never stolen: moving it cannot even out throughput. room
// caps the steals (MaxLeasesForWorker); negative is no cap.
func planThroughputSteals(load map[string]float64, owned map[string][]checkpoint.Lease, mine float64, room int) []checkpoint.Lease {
	victims := make([]string, 0, len(load))
	for o := range load {
		victims = append(victims, o)
	}
	var steals []checkpoint.Lease
	for room != 0 {
		slices.SortFunc(victims, func(a, b string) int {
			if c := cmp.Compare(load[b], load[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		stolen := false
		for _, v := range victims {
			if load[v] <= mine {
				break
			}
			best, bestGain := -1, stealGainFraction*load[v]
			for i, l := range owned[v] {
				if l.ThroughputKBps <= 0 {
					continue
				}
				if gain := load[v] - max(load[v]-l.ThroughputKBps, mine+l.ThroughputKBps); gain > bestGain {
					best, bestGain = i, gain
				}
			}
			if best < 0 {
				continue
			}
			l := owned[v][best]
			owned[v] = slices.Delete(owned[v], best, best+1)
			load[v] -= l.ThroughputKBps
			mine += l.ThroughputKBps
			steals = append(steals, l)
			stolen = true
			room--
			break
		}
		if !stolen {
			break
		}
	}
	return steals
}
