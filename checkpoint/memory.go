package checkpoint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Memory is a Store that keeps leases in process memory, with exactly the conditional
// semantics of the DynamoDB store. It suits tests and single-process consumers that do
// not need checkpoints to survive a restart. Leases are copied in and out, so callers
// never share memory with the store. The zero value is not usable; call NewMemory.
type Memory struct {
	mu     sync.Mutex
	leases map[string]Lease
}

var _ HandoffStore = (*Memory)(nil)

// NewMemory returns an empty in-memory Store.
func NewMemory() *Memory {
	return &Memory{leases: make(map[string]Lease)}
}

// ListLeases returns copies of every lease, sorted by key.
func (m *Memory) ListLeases(ctx context.Context) ([]Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Lease, 0, len(m.leases))
	for _, l := range m.leases {
		out = append(out, cloneLease(l))
	}
	slices.SortFunc(out, func(a, b Lease) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// GetLease returns a copy of the lease with the given key, or an error matching
// ErrLeaseNotFound.
func (m *Memory) GetLease(ctx context.Context, key string) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[key]
	if !ok {
		return Lease{}, notFound(key)
	}
	return cloneLease(l), nil
}

// CreateLease stores a copy of l unless a lease with its key exists (ConflictError).
func (m *Memory) CreateLease(ctx context.Context, l Lease) (Lease, error) {
	if err := validateNewLease(l); err != nil {
		return Lease{}, err
	}
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.leases[l.Key]; ok {
		return Lease{}, &ConflictError{Op: "create", Key: l.Key}
	}
	stored := normalizeLease(cloneLease(l))
	m.leases[l.Key] = stored
	return cloneLease(stored), nil
}

// RenewLease increments the counter if the stored Owner and Counter are l's, recording
// l.ThroughputKBps.
func (m *Memory) RenewLease(ctx context.Context, l Lease) (Lease, error) {
	return m.update(ctx, "renew", l, func(s *Lease) bool {
		return l.Owner != "" && s.Owner == l.Owner && s.Counter == l.Counter
	}, func(s *Lease) { s.ThroughputKBps = max(l.ThroughputKBps, 0) })
}

// StartHandoff marks the lease for a handoff from l.Owner to newOwner (see HandoffStore).
func (m *Memory) StartHandoff(ctx context.Context, l Lease, newOwner string) (Lease, error) {
	if err := validateHandoff(l, newOwner); err != nil {
		return Lease{}, err
	}
	return m.update(ctx, "handoff", l, func(s *Lease) bool {
		return s.Owner == l.Owner && s.Counter == l.Counter && s.CheckpointOwner == ""
	}, func(s *Lease) {
		s.Owner, s.CheckpointOwner = newOwner, l.Owner
	})
}

// FinishHandoff ends the handoff of l, recording the move in OwnerSinceCounter (see
// HandoffStore).
func (m *Memory) FinishHandoff(ctx context.Context, l Lease) (Lease, error) {
	return m.update(ctx, "finish handoff", l, func(s *Lease) bool {
		return l.CheckpointOwner != "" && s.CheckpointOwner == l.CheckpointOwner && s.Counter == l.Counter
	}, func(s *Lease) { s.CheckpointOwner, s.OwnerSinceCounter = "", l.Counter+1 })
}

// TakeLease makes owner the owner if the stored Counter is l.Counter, recording a move
// to another worker in OwnerSinceCounter (see Store.TakeLease).
func (m *Memory) TakeLease(ctx context.Context, l Lease, owner string) (Lease, error) {
	if owner == "" {
		return Lease{}, fmt.Errorf("%w: TakeLease of %s: the new owner is empty", ErrInvalidLease, l.Key)
	}
	return m.update(ctx, "take", l, func(s *Lease) bool {
		return s.Counter == l.Counter
	}, func(s *Lease) {
		// As in the KCL, the switch is judged from the owner the caller saw (which the
		// counter condition proves is still the stored one); a take of an unowned lease is
		// not a switch.
		if l.Owner != "" && l.Owner != owner {
			s.OwnerSwitchesSinceCheckpoint++
		}
		if takeMoves(l, owner) {
			s.OwnerSinceCounter = l.Counter + 1
		}
		s.Owner, s.CheckpointOwner = owner, ""
	})
}

// ReleaseLease removes the owner if the stored Owner and Counter are l's, recording the
// release in OwnerSinceCounter.
func (m *Memory) ReleaseLease(ctx context.Context, l Lease) (Lease, error) {
	return m.update(ctx, "release", l, func(s *Lease) bool {
		return l.Owner != "" && s.Owner == l.Owner && s.Counter == l.Counter
	}, func(s *Lease) { s.Owner, s.CheckpointOwner, s.OwnerSinceCounter = "", "", l.Counter+1 })
}

// Checkpoint records cp if the stored Owner and Counter are l's.
func (m *Memory) Checkpoint(ctx context.Context, l Lease, cp ExtendedSequenceNumber) (Lease, error) {
	if _, err := ParseExtendedSequenceNumber(cp.SequenceNumber, cp.SubSequenceNumber); err != nil {
		return Lease{}, fmt.Errorf("checkpoint: Checkpoint of %s: %w", l.Key, err)
	}
	return m.update(ctx, "checkpoint", l, func(s *Lease) bool {
		return l.Owner != "" && s.Owner == l.Owner && s.Counter == l.Counter
	}, func(s *Lease) {
		s.Checkpoint = cp
		s.OwnerSwitchesSinceCheckpoint = 0
		s.PendingCheckpoint = nil
		s.PendingCheckpointState = nil
	})
}

// UpdateShardInfo records the non-empty ChildShardIDs, StartingHashKey and EndingHashKey
// of l on the stored lease; the counter and owner do not change.
func (m *Memory) UpdateShardInfo(ctx context.Context, l Lease) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.leases[l.Key]
	if !ok {
		return notFound(l.Key)
	}
	if len(l.ChildShardIDs) > 0 {
		s.ChildShardIDs = sortedSet(l.ChildShardIDs)
	}
	if l.StartingHashKey != "" {
		s.StartingHashKey = l.StartingHashKey
	}
	if l.EndingHashKey != "" {
		s.EndingHashKey = l.EndingHashKey
	}
	m.leases[l.Key] = s
	return nil
}

// DeleteLease removes the lease; an absent lease is not an error.
func (m *Memory) DeleteLease(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.leases, key)
	return nil
}

// update applies change to the stored lease when cond holds, incrementing the counter.
// A missing lease fails the condition, as a conditional UpdateItem does.
func (m *Memory) update(ctx context.Context, op string, l Lease, cond func(*Lease) bool, change func(*Lease)) (Lease, error) {
	if err := ctx.Err(); err != nil {
		return Lease{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.leases[l.Key]
	if !ok || !cond(&s) {
		return Lease{}, &ConflictError{Op: op, Key: l.Key}
	}
	s = cloneLease(s)
	change(&s)
	s.Counter++
	m.leases[l.Key] = s
	return cloneLease(s), nil
}

// cloneLease returns l with its slices and pointers copied.
func cloneLease(l Lease) Lease {
	l.ParentShardIDs = slices.Clone(l.ParentShardIDs)
	l.ChildShardIDs = slices.Clone(l.ChildShardIDs)
	l.PendingCheckpointState = slices.Clone(l.PendingCheckpointState)
	if l.PendingCheckpoint != nil {
		p := *l.PendingCheckpoint
		l.PendingCheckpoint = &p
	}
	return l
}

// normalizeLease makes a lease look the way it reads back from DynamoDB: string sets
// sorted and deduplicated, empty sets, state and pending checkpoint nil.
func normalizeLease(l Lease) Lease {
	l.ParentShardIDs = sortedSet(l.ParentShardIDs)
	l.ChildShardIDs = sortedSet(l.ChildShardIDs)
	if len(l.PendingCheckpointState) == 0 {
		l.PendingCheckpointState = nil
	}
	if l.PendingCheckpoint != nil && l.PendingCheckpoint.SequenceNumber == "" {
		l.PendingCheckpoint = nil
	}
	return l
}

func sortedSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func notFound(key string) error {
	return fmt.Errorf("checkpoint: lease %q: %w", key, ErrLeaseNotFound)
}

// takeMoves reports whether a take of l by owner moves the lease to another worker and so
// sets OwnerSinceCounter (see Store.TakeLease): the worker processing l is another one
// (its CheckpointOwner during a handoff, else its Owner), or l is unowned and was
// released by a worker.
func takeMoves(l Lease, owner string) bool {
	from := l.Owner
	if l.CheckpointOwner != "" {
		from = l.CheckpointOwner
	}
	if from == "" {
		return l.OwnerSinceCounter > 0
	}
	return from != owner
}

// validateHandoff checks the arguments of StartHandoff.
func validateHandoff(l Lease, newOwner string) error {
	switch {
	case newOwner == "":
		return fmt.Errorf("%w: StartHandoff of %s: the new owner is empty", ErrInvalidLease, l.Key)
	case l.Owner == "":
		return fmt.Errorf("%w: StartHandoff of %s: the lease has no owner to hand it over; take it with TakeLease", ErrInvalidLease, l.Key)
	case l.Owner == newOwner:
		return fmt.Errorf("%w: StartHandoff of %s: %q already owns it", ErrInvalidLease, l.Key, newOwner)
	}
	return nil
}

// validateNewLease checks what CreateLease needs: a key, valid positions.
func validateNewLease(l Lease) error {
	if l.Key == "" {
		return fmt.Errorf("%w: CreateLease: the lease key is empty", ErrInvalidLease)
	}
	if l.Counter < 0 || l.OwnerSwitchesSinceCheckpoint < 0 || l.OwnerSinceCounter < 0 {
		return fmt.Errorf("%w: CreateLease of %s: negative counter", ErrInvalidLease, l.Key)
	}
	if !l.Checkpoint.IsZero() {
		if _, err := ParseExtendedSequenceNumber(l.Checkpoint.SequenceNumber, l.Checkpoint.SubSequenceNumber); err != nil {
			return fmt.Errorf("%w: CreateLease of %s: Checkpoint: %w", ErrInvalidLease, l.Key, err)
		}
	}
	if p := l.PendingCheckpoint; p != nil {
		if _, err := ParseExtendedSequenceNumber(p.SequenceNumber, p.SubSequenceNumber); err != nil {
			return fmt.Errorf("%w: CreateLease of %s: PendingCheckpoint: %w", ErrInvalidLease, l.Key, err)
		}
	}
	for _, id := range slices.Concat(l.ParentShardIDs, l.ChildShardIDs) {
		if id == "" {
			return fmt.Errorf("%w: CreateLease of %s: empty shard id in ParentShardIDs or ChildShardIDs", ErrInvalidLease, l.Key)
		}
	}
	return nil
}
