package consumer

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

var errCrashed = errors.New("worker crashed")

// crashStore is one worker's view of a shared store. After crash every call fails, as
// if the worker's process had died (its writes never reach the table).
type crashStore struct {
	checkpoint.HandoffStore
	crashed atomic.Bool
	at      atomic.Pointer[time.Time] // when it crashed
	// afterMark runs after a successful StartHandoff by this worker.
	afterMark func()
	// beforeFinish runs before this worker's FinishHandoff.
	beforeFinish func()
}

func (s *crashStore) crash() {
	now := time.Now()
	s.at.Store(&now)
	s.crashed.Store(true)
}

func (s *crashStore) check() error {
	if s.crashed.Load() {
		return errCrashed
	}
	return nil
}

func (s *crashStore) ListLeases(ctx context.Context) ([]checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.HandoffStore.ListLeases(ctx)
}

func (s *crashStore) GetLease(ctx context.Context, key string) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.GetLease(ctx, key)
}

func (s *crashStore) CreateLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.CreateLease(ctx, l)
}

func (s *crashStore) RenewLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.RenewLease(ctx, l)
}

func (s *crashStore) TakeLease(ctx context.Context, l checkpoint.Lease, owner string) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.TakeLease(ctx, l, owner)
}

func (s *crashStore) ReleaseLease(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.ReleaseLease(ctx, l)
}

func (s *crashStore) Checkpoint(ctx context.Context, l checkpoint.Lease, cp checkpoint.ExtendedSequenceNumber) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.Checkpoint(ctx, l, cp)
}

func (s *crashStore) UpdateShardInfo(ctx context.Context, l checkpoint.Lease) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.HandoffStore.UpdateShardInfo(ctx, l)
}

func (s *crashStore) StartHandoff(ctx context.Context, l checkpoint.Lease, newOwner string) (checkpoint.Lease, error) {
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	nl, err := s.HandoffStore.StartHandoff(ctx, l, newOwner)
	if err == nil && s.afterMark != nil {
		s.afterMark()
	}
	return nl, err
}

func (s *crashStore) FinishHandoff(ctx context.Context, l checkpoint.Lease) (checkpoint.Lease, error) {
	if s.beforeFinish != nil {
		s.beforeFinish()
	}
	if err := s.check(); err != nil {
		return checkpoint.Lease{}, err
	}
	return s.HandoffStore.FinishHandoff(ctx, l)
}

// crashProcessor stops processing once its worker crashed: it records nothing more and
// never checkpoints again.
type crashProcessor struct {
	RecordProcessor
	store *crashStore
	// beforeShutdown runs when ShutdownRequested is called, before the processor's own.
	beforeShutdown func()
}

func (p *crashProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if p.store.crashed.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	return p.RecordProcessor.ProcessRecords(ctx, in)
}

func (p *crashProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	if p.beforeShutdown != nil {
		p.beforeShutdown()
	}
	if p.store.crashed.Load() {
		return errCrashed
	}
	return p.RecordProcessor.ShutdownRequested(ctx, in)
}

// TestHandoffSurvivesACrashAtEveryStep kills the old or the new owner at each step of a
// graceful handoff: nothing may be lost, the lease must be processed again within
// FailoverTime + HandoffTimeout, and no lease may stay marked.
func TestHandoffSurvivesACrashAtEveryStep(t *testing.T) {
	const handoffTimeout = 500 * time.Millisecond
	for _, tc := range []struct {
		name string
		// arm installs the crash on the old (w1) or the new (w2) worker's store.
		arm func(old, new *crashStore, oldProc *atomic.Pointer[func()])
	}{
		{"old owner after the mark", func(old, new *crashStore, _ *atomic.Pointer[func()]) {
			new.afterMark = old.crash
		}},
		{"old owner before its final checkpoint", func(old, _ *crashStore, oldProc *atomic.Pointer[func()]) {
			f := old.crash
			oldProc.Store(&f)
		}},
		{"old owner after its final checkpoint", func(old, _ *crashStore, _ *atomic.Pointer[func()]) {
			old.beforeFinish = old.crash
		}},
		{"new owner after the mark", func(_, new *crashStore, _ *atomic.Pointer[func()]) {
			new.afterMark = new.crash
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, stream := newFakeStream(t, 2)
			mem := checkpoint.NewMemory()
			r := newRecorder()
			want := putRecords(t, fake, stream, 8, 200, "a")
			stores := map[string]*crashStore{"w1": {HandoffStore: mem}, "w2": {HandoffStore: mem}}
			var onShutdown atomic.Pointer[func()] // w1's ShutdownRequested hook
			start := func(id string) func() {
				st := stores[id]
				inner := r.factory(id)
				c, err := New(fake, stream, st, func(shard string) RecordProcessor {
					p := &crashProcessor{RecordProcessor: inner(shard), store: st}
					if id == "w1" {
						p.beforeShutdown = func() {
							if f := onShutdown.Load(); f != nil {
								(*f)()
							}
						}
					}
					return p
				}, fastOptions(t, id, func(o *Options) {
					o.Balancing = BalanceByLeaseCount
					o.HandoffTimeout = handoffTimeout
				})...)
				if err != nil {
					t.Fatal(err)
				}
				return runConsumer(t, c)
			}
			start("w1")
			r.waitFor(t, 10*time.Second, "w1 holding both leases and every record", func() bool {
				return leaseCounts(t, mem)["w1"] == 2 && r.distinct() >= len(want)
			})
			tc.arm(stores["w1"], stores["w2"], &onShutdown)
			start("w2")
			want = append(want, putRecords(t, fake, stream, 8, 200, "b")...)
			var crashed *crashStore
			r.waitFor(t, 10*time.Second, "the crash", func() bool {
				for _, s := range stores {
					if s.crashed.Load() {
						crashed = s
						return true
					}
				}
				return false
			})

			// Both leases end with a live worker, not in a handoff, and everything is read.
			live := func(owner string) bool { return owner != "" && !stores[owner].crashed.Load() }
			var recovered time.Duration
			r.waitFor(t, 20*time.Second, "every lease with a live worker and no handoff", func() bool {
				ls, err := mem.ListLeases(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range ls {
					if !live(l.Owner) || l.InHandoff() {
						return false
					}
				}
				recovered = time.Since(*crashed.at.Load())
				return true
			})
			r.waitFor(t, 20*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
			r.checkComplete(t, want)
			// Failover: FailoverTime 1s, HandoffTimeout 0.5s, plus scans at up to 0.5s.
			if limit := time.Second + handoffTimeout + time.Second; recovered > limit {
				t.Errorf("the lease was processed again %v after the crash, want within %v", recovered, limit)
			}
			t.Logf("leases with live workers %v after the crash; %d records, %d deliveries", recovered.Round(time.Millisecond), len(want), r.total())
		})
	}
}

// gateProcessor blocks ProcessRecords while its gate is closed.
type gateProcessor struct {
	RecordProcessor
	gate    *atomic.Pointer[chan struct{}]
	waiting *atomic.Int32 // calls blocked at the gate
}

func (p *gateProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if g := p.gate.Load(); g != nil {
		p.waiting.Add(1)
		defer p.waiting.Add(-1)
		select {
		case <-*g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.RecordProcessor.ProcessRecords(ctx, in)
}

// TestANewOwnerShutDownDuringAHandoffReleasesTheLease: a worker that stops while it waits
// for a handoff must not leave the lease to itself (nobody would process it until it
// expired): it completes the handoff, then releases the lease.
func TestANewOwnerShutDownDuringAHandoffReleasesTheLease(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	mem := checkpoint.NewMemory()
	r := newRecorder()
	want := putRecords(t, fake, stream, 8, 100, "a")
	var gate atomic.Pointer[chan struct{}]
	var waiting atomic.Int32
	opts := func(o *Options) {
		o.Balancing = BalanceByLeaseCount
		o.FailoverTime = 30 * time.Second // an expiry would take far longer than the test waits
		o.LeaseTakeInterval = 100 * time.Millisecond
	}
	inner := r.factory("w1")
	c1, err := New(fake, stream, mem, func(shard string) RecordProcessor {
		return &gateProcessor{RecordProcessor: inner(shard), gate: &gate, waiting: &waiting}
	}, fastOptions(t, "w1", opts)...)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c1)
	r.waitFor(t, 10*time.Second, "w1 holding both leases and every record", func() bool {
		return leaseCounts(t, mem)["w1"] == 2 && r.distinct() >= len(want)
	})
	closed := make(chan struct{})
	gate.Store(&closed) // w1's next batches wait
	want = append(want, putRecords(t, fake, stream, 32, 100, "b")...)
	r.waitFor(t, 10*time.Second, "both of w1's shards in ProcessRecords", func() bool { return waiting.Load() == 2 })

	c2, err := New(fake, stream, mem, r.factory("w2"), fastOptions(t, "w2", opts)...)
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runConsumer(t, c2)
	var marked string
	r.waitFor(t, 10*time.Second, "a lease marked for w2", func() bool {
		ls, _ := mem.ListLeases(context.Background())
		for _, l := range ls {
			if l.InHandoff() && l.Owner == "w2" {
				marked = l.Key
				return true
			}
		}
		return false
	})
	stopped := make(chan struct{})
	go func() { stop2(); close(stopped) }()
	time.Sleep(200 * time.Millisecond) // w2 is shutting down while w1 still processes
	gate.Store(nil)
	close(closed)
	<-stopped
	l, err := mem.GetLease(context.Background(), marked)
	if err != nil {
		t.Fatal(err)
	}
	if l.Owner == "w2" || l.InHandoff() {
		t.Fatalf("after w2 stopped, lease %s is %+v; want it released (or w1's)", marked, l)
	}
	r.waitFor(t, 10*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
}
