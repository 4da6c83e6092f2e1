package checkpointtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// RunStoreContract checks, in subtests, the semantics every checkpoint.Store
// must have: every Lease field round-trips, listing, the Counter fencing of
// every write (a stale Counter fails with a *checkpoint.ConflictError that
// matches checkpoint.ErrLeaseConflict and changes nothing), taking, renewing,
// releasing, checkpointing and deleting leases, the moves between workers
// recorded in OwnerSinceCounter (and the graceful handoff's, when the store is
// a checkpoint.HandoffStore), returned leases being copies, concurrent
// writers, and a canceled context. newStore must return an empty
// store (a fresh table) for each subtest; it may register cleanups on the
// subtest's t.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) checkpoint.Store) {
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return c
	}
	create := func(t *testing.T, c context.Context, s checkpoint.Store, l checkpoint.Lease) checkpoint.Lease {
		t.Helper()
		got, err := s.CreateLease(c, l)
		must.NoError(t, err)
		return got
	}
	requireConflict := func(t *testing.T, err error, op string) {
		t.Helper()
		must.ErrorIs(t, err, checkpoint.ErrLeaseConflict)
		var ce *checkpoint.ConflictError
		must.ErrorAs(t, err, &ce)
		expect.Equal(t, op, ce.Op)
	}
	requireUnchanged := func(t *testing.T, c context.Context, s checkpoint.Store, want checkpoint.Lease) {
		t.Helper()
		got, err := s.GetLease(c, want.Key)
		must.NoError(t, err)
		expect.Equal(t, want, got, "a failed conditional write must change nothing")
	}

	t.Run("CreateThenGetRoundTripsEveryField", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := checkpoint.Lease{
			Key: "shardId-000000000007", Owner: "worker-a", Counter: 41,
			Checkpoint:                   checkpoint.ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588898", SubSequenceNumber: 3},
			PendingCheckpoint:            &checkpoint.ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588899", SubSequenceNumber: 1},
			PendingCheckpointState:       []byte{0, 1, 2, 0xff},
			OwnerSwitchesSinceCheckpoint: 2,
			ParentShardIDs:               []string{"shardId-000000000002", "shardId-000000000001"},
			ChildShardIDs:                []string{"shardId-000000000009"},
			StartingHashKey:              "0",
			EndingHashKey:                "340282366920938463463374607431768211455",
			OwnerSinceCounter:            39,
		}
		stored := create(t, c, s, l)
		want := l
		want.ParentShardIDs = []string{"shardId-000000000001", "shardId-000000000002"} // a set: sorted
		expect.Equal(t, want, stored)
		got, err := s.GetLease(c, l.Key)
		must.NoError(t, err)
		expect.Equal(t, want, got)

		minimal := create(t, c, s, checkpoint.Lease{Key: "shardId-000000000008", Checkpoint: checkpoint.PositionTrimHorizon})
		got, err = s.GetLease(c, minimal.Key)
		must.NoError(t, err)
		expect.Equal(t, checkpoint.Lease{Key: "shardId-000000000008", Checkpoint: checkpoint.PositionTrimHorizon}, got)
	})

	t.Run("GetMissingLeaseIsNotFound", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		_, err := s.GetLease(c, "shardId-404")
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound)
	})

	t.Run("CreateTwiceConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		first := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionLatest})
		_, err := s.CreateLease(c, checkpoint.Lease{Key: "k", Owner: "intruder", Checkpoint: checkpoint.PositionTrimHorizon, Counter: 9})
		requireConflict(t, err, "create")
		requireUnchanged(t, c, s, first)
	})

	t.Run("CreateRejectsInvalidLeases", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		for _, l := range []checkpoint.Lease{
			{},
			{Key: "k", Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "12x"}},
			{Key: "k", PendingCheckpoint: &checkpoint.ExtendedSequenceNumber{SequenceNumber: "nope"}},
			{Key: "k", ParentShardIDs: []string{""}},
			{Key: "k", Counter: -1},
		} {
			_, err := s.CreateLease(c, l)
			must.ErrorIs(t, err, checkpoint.ErrInvalidLease, "%+v", l)
		}
		_, err := s.GetLease(c, "k")
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound, "nothing may be written")
	})

	t.Run("TakeWithStaleCounterConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)
		_, err = s.TakeLease(c, l, "b") // l.Counter is stale now
		requireConflict(t, err, "take")
		requireUnchanged(t, c, s, a)
	})

	t.Run("TakeOfMissingLeaseConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		_, err := s.TakeLease(c, checkpoint.Lease{Key: "gone"}, "a")
		requireConflict(t, err, "take")
		_, err = s.GetLease(c, "gone")
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound, "a take must not create a lease")
	})

	t.Run("TakeWithEmptyOwnerIsInvalid", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		_, err := s.TakeLease(c, l, "")
		must.ErrorIs(t, err, checkpoint.ErrInvalidLease)
		requireUnchanged(t, c, s, l)
	})

	t.Run("RenewByOwnerIncrementsCounter", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)
		r, err := s.RenewLease(c, a)
		must.NoError(t, err)
		want := a
		want.Counter++
		expect.Equal(t, want, r)
		requireUnchanged(t, c, s, want)
	})

	t.Run("RenewByNonOwnerOrWithStaleCounterConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)

		notOwner := a
		notOwner.Owner = "b"
		_, err = s.RenewLease(c, notOwner)
		requireConflict(t, err, "renew")

		unowned := a
		unowned.Owner = ""
		_, err = s.RenewLease(c, unowned)
		requireConflict(t, err, "renew")

		stale := a
		stale.Counter--
		_, err = s.RenewLease(c, stale)
		requireConflict(t, err, "renew")

		_, err = s.RenewLease(c, l) // neither owner nor counter match
		requireConflict(t, err, "renew")
		requireUnchanged(t, c, s, a)
	})

	t.Run("CheckpointByOwnerRecordsPositionAndClearsPending", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{
			Key: "k", Owner: "a", Checkpoint: checkpoint.PositionTrimHorizon,
			PendingCheckpoint:      &checkpoint.ExtendedSequenceNumber{SequenceNumber: "200"},
			PendingCheckpointState: []byte("state"),
		})
		cp := checkpoint.ExtendedSequenceNumber{SequenceNumber: "123456789012345678901234567890", SubSequenceNumber: 4}
		got, err := s.Checkpoint(c, l, cp)
		must.NoError(t, err)
		want := checkpoint.Lease{Key: "k", Owner: "a", Counter: l.Counter + 1, Checkpoint: cp}
		expect.Equal(t, want, got)
		requireUnchanged(t, c, s, want)

		got, err = s.Checkpoint(c, got, checkpoint.PositionShardEnd)
		must.NoError(t, err)
		expect.Equal(t, checkpoint.PositionShardEnd, got.Checkpoint)
	})

	t.Run("CheckpointByNonOwnerOrWithStaleCounterConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)
		cp := checkpoint.ExtendedSequenceNumber{SequenceNumber: "100"}

		notOwner := a
		notOwner.Owner = "b"
		_, err = s.Checkpoint(c, notOwner, cp)
		requireConflict(t, err, "checkpoint")

		unowned := a
		unowned.Owner = ""
		_, err = s.Checkpoint(c, unowned, cp)
		requireConflict(t, err, "checkpoint")

		stale := a
		stale.Counter--
		_, err = s.Checkpoint(c, stale, cp)
		requireConflict(t, err, "checkpoint")

		// The lease was taken by b meanwhile: a's checkpoint must be fenced off.
		b, err := s.TakeLease(c, a, "b")
		must.NoError(t, err)
		_, err = s.Checkpoint(c, a, cp)
		requireConflict(t, err, "checkpoint")
		requireUnchanged(t, c, s, b)
	})

	t.Run("CheckpointRejectsInvalidPosition", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Owner: "a", Checkpoint: checkpoint.PositionTrimHorizon})
		for _, cp := range []checkpoint.ExtendedSequenceNumber{{}, {SequenceNumber: "-1"}, {SequenceNumber: "12", SubSequenceNumber: -1}} {
			_, err := s.Checkpoint(c, l, cp)
			must.ErrorIs(t, err, checkpoint.ErrInvalidSequenceNumber, "%+v", cp)
		}
		requireUnchanged(t, c, s, l)
	})

	t.Run("ReleaseThenTakeByAnother", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)
		r, err := s.ReleaseLease(c, a)
		must.NoError(t, err)
		expect.Equal(t, "", r.Owner)
		expect.Equal(t, a.Counter+1, r.Counter)
		requireUnchanged(t, c, s, r)

		b, err := s.TakeLease(c, r, "b")
		must.NoError(t, err)
		expect.Equal(t, "b", b.Owner)
		expect.Equal(t, r.Counter+1, b.Counter)
		expect.Equal(t, int64(0), b.OwnerSwitchesSinceCheckpoint, "a take of an unowned lease is not an owner switch (as in the KCL)")
	})

	t.Run("ReleaseByNonOwnerOrWithStaleCounterConflicts", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		a, err := s.TakeLease(c, l, "a")
		must.NoError(t, err)

		notOwner := a
		notOwner.Owner = "b"
		_, err = s.ReleaseLease(c, notOwner)
		requireConflict(t, err, "release")

		stale := a
		stale.Counter--
		_, err = s.ReleaseLease(c, stale)
		requireConflict(t, err, "release")

		_, err = s.ReleaseLease(c, l) // unowned as read
		requireConflict(t, err, "release")
		requireUnchanged(t, c, s, a)
	})

	t.Run("RacingTakesHaveExactlyOneWinner", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Owner: "dead", Checkpoint: checkpoint.PositionTrimHorizon})
		const racers = 8
		var (
			wg        sync.WaitGroup
			start     = make(chan struct{})
			results   = make([]checkpoint.Lease, racers)
			errs      = make([]error, racers)
			owners    = make([]string, racers)
			winners   int
			conflicts int
		)
		for i := range racers {
			owners[i] = fmt.Sprintf("worker-%d", i)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = s.TakeLease(c, l, owners[i])
			}()
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				winners++
				winner = i
			case errors.Is(err, checkpoint.ErrLeaseConflict):
				conflicts++
			default:
				t.Errorf("racer %d: unexpected error %v", i, err)
			}
		}
		must.Equal(t, 1, winners)
		must.Equal(t, racers-1, conflicts)
		want := checkpoint.Lease{Key: "k", Owner: owners[winner], Counter: l.Counter + 1, Checkpoint: checkpoint.PositionTrimHorizon, OwnerSwitchesSinceCheckpoint: 1,
			OwnerSinceCounter: l.Counter + 1} // taken from another owner: a move
		expect.Equal(t, want, results[winner])
		requireUnchanged(t, c, s, want)
	})

	t.Run("ListReadsEveryPage", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		want := map[string]checkpoint.Lease{}
		for i := range 7 {
			l := create(t, c, s, checkpoint.Lease{Key: fmt.Sprintf("shardId-%012d", i), Counter: int64(i), Checkpoint: checkpoint.PositionLatest})
			want[l.Key] = l
		}
		leases, err := s.ListLeases(c)
		must.NoError(t, err)
		got := map[string]checkpoint.Lease{}
		for _, l := range leases {
			_, dup := got[l.Key]
			must.False(t, dup, "lease %s listed twice", l.Key)
			got[l.Key] = l
		}
		expect.Equal(t, want, got)
	})

	t.Run("ListOfEmptyStoreIsEmpty", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		leases, err := s.ListLeases(c)
		must.NoError(t, err)
		expect.Empty(t, leases)
	})

	t.Run("EveryWriteIncrementsCounterByExactlyOne", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Counter: 5, Checkpoint: checkpoint.PositionTrimHorizon})
		expect.Equal(t, int64(5), l.Counter, "create stores the given counter")
		steps := []struct {
			name string
			do   func(checkpoint.Lease) (checkpoint.Lease, error)
		}{
			{"take", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.TakeLease(c, l, "a") }},
			{"renew", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.RenewLease(c, l) }},
			{"checkpoint", func(l checkpoint.Lease) (checkpoint.Lease, error) {
				return s.Checkpoint(c, l, checkpoint.ExtendedSequenceNumber{SequenceNumber: "7"})
			}},
			{"take by another", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.TakeLease(c, l, "b") }},
			{"release", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.ReleaseLease(c, l) }},
			{"take again", func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.TakeLease(c, l, "a") }},
		}
		for _, step := range steps {
			next, err := step.do(l)
			must.NoError(t, err, step.name)
			expect.Equal(t, l.Counter+1, next.Counter, step.name)
			requireUnchanged(t, c, s, next)
			l = next
		}
	})

	t.Run("OwnerSwitchesCountTakesFromOthersAndResetOnCheckpoint", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Owner: "a", Checkpoint: checkpoint.PositionTrimHorizon})
		l, err := s.TakeLease(c, l, "b")
		must.NoError(t, err)
		expect.Equal(t, int64(1), l.OwnerSwitchesSinceCheckpoint)
		l, err = s.TakeLease(c, l, "b") // same owner again: not a switch
		must.NoError(t, err)
		expect.Equal(t, int64(1), l.OwnerSwitchesSinceCheckpoint)
		l, err = s.TakeLease(c, l, "c")
		must.NoError(t, err)
		expect.Equal(t, int64(2), l.OwnerSwitchesSinceCheckpoint)
		l, err = s.Checkpoint(c, l, checkpoint.ExtendedSequenceNumber{SequenceNumber: "1"})
		must.NoError(t, err)
		expect.Equal(t, int64(0), l.OwnerSwitchesSinceCheckpoint)
		requireUnchanged(t, c, s, l)
	})

	t.Run("OwnerSinceCounterRecordsMovesToAnotherWorker", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		// step runs a write and checks OwnerSinceCounter after it: the new Counter when the
		// write moved the lease, else unchanged.
		step := func(name string, moved bool, do func(checkpoint.Lease) (checkpoint.Lease, error)) {
			t.Helper()
			next, err := do(l)
			must.NoError(t, err, name)
			want := l.OwnerSinceCounter
			if moved {
				want = next.Counter
			}
			expect.Equal(t, want, next.OwnerSinceCounter, "%s: OwnerSinceCounter", name)
			requireUnchanged(t, c, s, next)
			l = next
		}
		take := func(owner string) func(checkpoint.Lease) (checkpoint.Lease, error) {
			return func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.TakeLease(c, l, owner) }
		}
		renew := func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.RenewLease(c, l) }
		step("first take of a new lease", false, take("a"))
		expect.Equal(t, int64(0), l.OwnerSinceCounter, "a lease that never moved records no move")
		step("renew", false, renew)
		step("take by the owner itself", false, take("a"))
		step("take from another owner", true, take("b"))
		step("renew after the move", false, renew)
		step("checkpoint after the move", false, func(l checkpoint.Lease) (checkpoint.Lease, error) {
			return s.Checkpoint(c, l, checkpoint.ExtendedSequenceNumber{SequenceNumber: "7"})
		})
		step("release", true, func(l checkpoint.Lease) (checkpoint.Lease, error) { return s.ReleaseLease(c, l) })
		step("take of a released lease", true, take("c"))
		_, err := s.TakeLease(c, checkpoint.Lease{Key: "k", Counter: l.Counter - 1, Owner: "c"}, "d")
		requireConflict(t, err, "take")
		requireUnchanged(t, c, s, l)

		hs, ok := s.(checkpoint.HandoffStore)
		if !ok {
			return
		}
		step("start of a handoff", false, func(l checkpoint.Lease) (checkpoint.Lease, error) { return hs.StartHandoff(c, l, "d") })
		step("renew by the old owner during the handoff", false, renew)
		step("end of the handoff", true, func(l checkpoint.Lease) (checkpoint.Lease, error) { return hs.FinishHandoff(c, l) })
		step("start of another handoff", false, func(l checkpoint.Lease) (checkpoint.Lease, error) { return hs.StartHandoff(c, l, "e") })
		step("forced take by the new owner", true, take("e"))
		step("start of a third handoff", false, func(l checkpoint.Lease) (checkpoint.Lease, error) { return hs.StartHandoff(c, l, "f") })
		step("take back by the old owner (the new one died)", false, take("e"))
	})

	t.Run("UpdateShardInfoKeepsCounterAndOwner", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		l := create(t, c, s, checkpoint.Lease{Key: "k", Owner: "a", Counter: 3, Checkpoint: checkpoint.PositionShardEnd, StartingHashKey: "0", EndingHashKey: "99"})
		must.NoError(t, s.UpdateShardInfo(c, checkpoint.Lease{Key: "k", ChildShardIDs: []string{"c2", "c1"}}))
		want := l
		want.ChildShardIDs = []string{"c1", "c2"}
		requireUnchanged(t, c, s, want)

		must.NoError(t, s.UpdateShardInfo(c, checkpoint.Lease{Key: "k", StartingHashKey: "10", EndingHashKey: "20"}))
		want.StartingHashKey, want.EndingHashKey = "10", "20"
		requireUnchanged(t, c, s, want)

		must.NoError(t, s.UpdateShardInfo(c, checkpoint.Lease{Key: "k"}), "nothing to record on an existing lease")
		requireUnchanged(t, c, s, want)
	})

	t.Run("UpdateShardInfoOfMissingLeaseIsNotFound", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		err := s.UpdateShardInfo(c, checkpoint.Lease{Key: "gone", ChildShardIDs: []string{"c1"}})
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound)
		must.ErrorIs(t, s.UpdateShardInfo(c, checkpoint.Lease{Key: "gone"}), checkpoint.ErrLeaseNotFound)
		_, err = s.GetLease(c, "gone")
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound, "UpdateShardInfo must not create a lease")
	})

	t.Run("DeleteRemovesAndAbsentIsFine", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon})
		must.NoError(t, s.DeleteLease(c, "k"))
		_, err := s.GetLease(c, "k")
		must.ErrorIs(t, err, checkpoint.ErrLeaseNotFound)
		must.NoError(t, s.DeleteLease(c, "k"))
		must.NoError(t, s.DeleteLease(c, "never-existed"))
		create(t, c, s, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionTrimHorizon}) // can be created again
	})

	t.Run("ReturnedLeasesAreCopies", func(t *testing.T) {
		c, s := ctx(t), newStore(t)
		in := checkpoint.Lease{
			Key: "k", Owner: "a", Checkpoint: checkpoint.PositionTrimHorizon,
			PendingCheckpoint:      &checkpoint.ExtendedSequenceNumber{SequenceNumber: "5"},
			PendingCheckpointState: []byte("st"),
			ParentShardIDs:         []string{"p"},
			ChildShardIDs:          []string{"c"},
		}
		created := create(t, c, s, in)
		// A deep copy made here, independent of the store under test.
		want := created
		want.ParentShardIDs = slices.Clone(created.ParentShardIDs)
		want.ChildShardIDs = slices.Clone(created.ChildShardIDs)
		want.PendingCheckpointState = slices.Clone(created.PendingCheckpointState)
		pending := *created.PendingCheckpoint
		want.PendingCheckpoint = &pending

		// Mutate the input, the result of create, get, list and an update.
		in.ParentShardIDs[0], in.PendingCheckpoint.SequenceNumber, in.PendingCheckpointState[0] = "x", "6", 'x'
		created.ChildShardIDs[0], created.PendingCheckpoint.SubSequenceNumber, created.PendingCheckpointState[1] = "x", 9, 'x'
		got, err := s.GetLease(c, "k")
		must.NoError(t, err)
		got.ParentShardIDs[0], got.PendingCheckpoint.SequenceNumber = "y", "7"
		listed, err := s.ListLeases(c)
		must.NoError(t, err)
		must.Len(t, listed, 1)
		listed[0].ChildShardIDs[0], listed[0].PendingCheckpointState[0] = "z", 'z'
		requireUnchanged(t, c, s, want)

		renewed, err := s.RenewLease(c, want)
		must.NoError(t, err)
		want.Counter++
		renewed.ParentShardIDs[0], renewed.PendingCheckpoint.SequenceNumber = "w", "8"
		requireUnchanged(t, c, s, want)
	})

	t.Run("CanceledContextFails", func(t *testing.T) {
		s := newStore(t)
		c, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := s.ListLeases(c)
		must.ErrorIs(t, err, context.Canceled)
		_, err = s.CreateLease(c, checkpoint.Lease{Key: "k", Checkpoint: checkpoint.PositionLatest})
		must.ErrorIs(t, err, context.Canceled)
	})
}
