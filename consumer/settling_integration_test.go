package consumer

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// leaseMove is one move of a lease from a worker to another, as a successful write did it.
type leaseMove struct {
	key, from, to string
	at            time.Time
}

// moveLog collects the moves of every worker's writes.
type moveLog struct {
	mu    sync.Mutex
	moves []leaseMove
}

func (m *moveLog) add(key, from, to string) {
	m.mu.Lock()
	m.moves = append(m.moves, leaseMove{key: key, from: from, to: to, at: time.Now()})
	m.mu.Unlock()
}

// since returns the moves at or after t, per lease, in order.
func (m *moveLog) since(t time.Time) map[string][]leaseMove {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]leaseMove{}
	for _, mv := range m.moves {
		if !mv.at.Before(t) {
			out[mv.key] = append(out[mv.key], mv)
		}
	}
	return out
}

// movingStore is one worker's view of the shared store that logs the moves its writes
// make: a take from another owner (a failover) and the mark of a graceful handoff (a
// steal). The forced take that may end a handoff is the same move as its mark, and a take
// of an unowned lease is not counted.
type movingStore struct {
	checkpoint.HandoffStore
	log *moveLog
}

func (s *movingStore) TakeLease(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	nl, err := s.HandoffStore.TakeLease(ctx, l, owner)
	if err == nil && l.Owner != "" && l.Owner != owner {
		s.log.add(l.Key, l.Owner, owner)
	}
	return nl, err
}

func (s *movingStore) StartHandoff(ctx context.Context, l checkpoint.Lease, newOwner string) (checkpoint.Lease, error) {
	nl, err := s.HandoffStore.StartHandoff(ctx, l, newOwner)
	if err == nil {
		s.log.add(l.Key, l.Owner, newOwner)
	}
	return nl, err
}

// TestARestartedWorkerLeavesTheLeasesJustTakenOverFromIt: workers A and B share 8 leases
// under steady production; B is killed, A takes B's leases after FailoverTime, and B
// restarts at once (same worker id, no history). B must not take back any of those
// leases before they settled: each of B's old leases moves B->A, then at most once A->B,
// never within FailoverTime of the B->A move. B still gets its share at once from A's
// settled leases.
func TestARestartedWorkerLeavesTheLeasesJustTakenOverFromIt(t *testing.T) {
	const failover = 2 * time.Second
	env := emulators(t)
	stream := env.CreateStream(t, 8)
	kc := env.Kinesis()
	table := newStore(t, env)
	moves := &moveLog{}
	r := newRecorder()
	start := func(id string, st checkpoint.HandoffStore, crashed *crashStore) {
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		inner := r.factory(id)
		factory := func(shard string) RecordProcessor {
			if crashed == nil {
				return inner(shard)
			}
			return &crashProcessor{RecordProcessor: inner(shard), store: crashed}
		}
		c, err := New(kc, stream, st, factory, testOptions(t, id, func(o *Options) {
			o.MeterProvider = mp
			o.Balancing = BalanceByThroughput
			o.FailoverTime = failover
			o.LeaseTakeInterval = 200 * time.Millisecond
		})...)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
	}
	start("A", &movingStore{HandoffStore: table, log: moves}, nil)
	b := &crashStore{HandoffStore: &movingStore{HandoffStore: table, log: moves}}
	start("B", b, b)
	r.waitFor(t, 30*time.Second, "A and B holding 4 leases each", func() bool {
		c := leaseCounts(t, table)
		return c["A"] == 4 && c["B"] == 4 && !inHandoff(t, table)
	})
	stopProducing := steadyProducer(t, kc, stream, "p", 32, 50*time.Millisecond)
	time.Sleep(failover) // throughput reports reach the table

	leases, err := table.ListLeases(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var bLeases []string
	for _, l := range leases {
		if l.Owner == "B" {
			bLeases = append(bLeases, l.Key)
		}
	}
	killed := time.Now()
	b.crash()
	takenOver := map[string]time.Time{} // B's old lease -> when A took it over
	waitUntil(t, 30*time.Second, "A taking over every lease of B", func() bool {
		for k, ms := range moves.since(killed) {
			if slices.Contains(bLeases, k) && ms[0].from == "B" && ms[0].to == "A" {
				takenOver[k] = ms[0].at
			}
		}
		return len(takenOver) == len(bLeases)
	})
	restarted := time.Now()
	start("B", &movingStore{HandoffStore: table, log: moves}, nil)

	// B gets its share at once from A's own (settled) leases.
	r.waitFor(t, 10*time.Second, "B stealing its share", func() bool {
		c := leaseCounts(t, table)
		return c["B"] == 4 && !inHandoff(t, table)
	})
	share := time.Since(restarted)
	// Watch until every lease taken over has long settled.
	time.Sleep(time.Until(restarted.Add(3 * failover)))
	r.waitFor(t, 30*time.Second, "no handoff in progress", func() bool { return !inHandoff(t, table) })
	want := stopProducing()
	r.waitFor(t, 60*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)

	var report []string
	after := moves.since(killed)
	for _, k := range bLeases {
		ms := after[k]
		var steps []string
		for _, m := range ms {
			steps = append(steps, fmt.Sprintf("%s->%s at +%v", m.from, m.to, m.at.Sub(killed).Round(time.Millisecond)))
		}
		report = append(report, fmt.Sprintf("%s: %d moves (%s)", k, len(ms), strings.Join(steps, ", ")))
		if len(ms) > 2 {
			t.Errorf("%s moved %d times after B was killed, want at most 2 (B->A, then A->B once settled)", k, len(ms))
		}
		for _, m := range ms[1:] {
			if took := m.at.Sub(takenOver[k]); took < failover {
				t.Errorf("%s moved %s->%s %v after A took it over from B, within the settling time (FailoverTime %v)", k, m.from, m.to, took.Round(time.Millisecond), failover)
			}
		}
	}
	// The steals of settled leases are not delayed: B decides them (marks the leases)
	// before any lease it lost could have settled.
	early := 0
	for _, ms := range moves.since(restarted) {
		for _, m := range ms {
			if m.to == "B" && m.at.Sub(restarted) < failover {
				early++
			}
		}
	}
	if early < 4 {
		t.Errorf("B stole %d leases within FailoverTime of its restart, want its share of 4 at once (A's own leases are settled)", early)
	}
	t.Logf("B restarted %v after it was killed; its share (4 leases) %v later; %d records, %d deliveries; moves of B's old leases since the kill:\n\t%s",
		restarted.Sub(killed).Round(time.Millisecond), share.Round(time.Millisecond), len(want), r.total(), strings.Join(report, "\n\t"))
}
