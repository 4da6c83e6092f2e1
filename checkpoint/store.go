package checkpoint

import (
	"context"
	"errors"
	"fmt"
)

// Lease is one row of the lease table: who processes a shard and how far it got. Field
// names follow the KCL 2.x attributes (in parentheses), so a Java KCL 2.x application and
// this library can share a table.
type Lease struct {
	// Key identifies the lease (leaseKey): the shard id, e.g. "shardId-000000000001".
	Key string
	// Owner is the worker holding the lease (leaseOwner); empty when nobody does.
	Owner string
	// Counter is the fencing counter (leaseCounter). Every renew, take, release and
	// checkpoint increments it, and each of them is conditional on the value the caller
	// last saw, so a worker that lost a lease cannot write to it.
	Counter int64
	// Checkpoint is how far the shard has been processed (checkpoint and
	// checkpointSubSequenceNumber).
	Checkpoint ExtendedSequenceNumber
	// PendingCheckpoint is the optional two-phase checkpoint (pendingCheckpoint and
	// pendingCheckpointSubSequenceNumber); nil when absent.
	PendingCheckpoint *ExtendedSequenceNumber
	// PendingCheckpointState is application state stored with the pending checkpoint
	// (pendingCheckpointState); nil when absent.
	PendingCheckpointState []byte
	// OwnerSwitchesSinceCheckpoint counts takes by a different owner since the last
	// checkpoint (ownerSwitchesSinceCheckpoint).
	OwnerSwitchesSinceCheckpoint int64
	// ParentShardIDs are the shards this one was split or merged from (parentShardId).
	ParentShardIDs []string
	// ChildShardIDs are the shards this one was split or merged into, recorded when the
	// shard ends (childShardIds).
	ChildShardIDs []string
	// StartingHashKey and EndingHashKey are the shard's hash key range, decimal
	// (startingHashKey, endingHashKey); empty when unknown.
	StartingHashKey string
	EndingHashKey   string

	// CheckpointOwner is set while a graceful handoff is in progress (checkpointOwner, a
	// KCL 3.x attribute): Owner already names the worker that takes the lease over, and
	// CheckpointOwner the worker that still processes it until it has written its final
	// checkpoint. Empty otherwise. See HandoffStore.
	CheckpointOwner string
	// ThroughputKBps is the lease's processed throughput in KB/s, smoothed, as its owner
	// last reported it with RenewLease (throughputKBps, a KCL 3.x attribute); 0 when idle
	// or unknown (the attribute is absent). Workers balance leases by it.
	ThroughputKBps float64
	// OwnerSinceCounter is the Counter the lease had right after it last moved from one
	// worker to another (ownerSinceCounter, an attribute of this library that the KCL
	// ignores), so that every worker, also one that starts later, knows how recently it
	// moved: Counter - OwnerSinceCounter writes ago. Counters, not timestamps, so clock
	// skew between workers does not matter. 0 (the attribute is absent) when the lease has
	// not moved since it was first taken, or was written by the KCL or an older version of
	// this library. The stores write it; callers only read it (see TakeLease, ReleaseLease
	// and HandoffStore.FinishHandoff for the writes that set it).
	OwnerSinceCounter int64
}

// InHandoff reports whether a graceful handoff of the lease is in progress.
func (l Lease) InHandoff() bool { return l.CheckpointOwner != "" }

// Store keeps leases and checkpoints. Every write is conditional on the lease's Counter
// (and Owner where that matters) as the caller last read it; when the condition fails the
// write changes nothing and returns an error matching ErrLeaseConflict. A lease that was
// deleted since it was read also fails the condition (ErrLeaseConflict, not
// ErrLeaseNotFound). Renew, release and checkpoint of a lease whose l.Owner is empty always
// conflict: only an owner can do them. Methods that change a lease return the lease as
// stored after the write, with its new Counter.
//
// Implementations: DynamoDB (the KCL-compatible table) and Memory. All methods are safe for
// concurrent use.
type Store interface {
	// ListLeases returns every lease, reading all pages, in no particular order (Memory
	// sorts by key; DynamoDB returns the table's scan order).
	ListLeases(ctx context.Context) ([]Lease, error)
	// GetLease returns one lease, read consistently; ErrLeaseNotFound if absent.
	GetLease(ctx context.Context, key string) (Lease, error)
	// CreateLease stores l if no lease with its key exists (else ErrLeaseConflict).
	CreateLease(ctx context.Context, l Lease) (Lease, error)
	// RenewLease increments the counter of a lease the caller owns, if its Counter and
	// Owner are still l.Counter and l.Owner, and records l.ThroughputKBps (0 clears it: no
	// traffic, or not measured). A store may ignore it; balancing then falls back to
	// lease counts.
	RenewLease(ctx context.Context, l Lease) (Lease, error)
	// TakeLease makes owner the lease's owner, if its Counter is still l.Counter. Taking
	// from a different owner increments OwnerSwitchesSinceCheckpoint. A take ends any
	// handoff in progress (CheckpointOwner is cleared): it is how a handoff is forced.
	//
	// A take that moves the lease to another worker sets OwnerSinceCounter to the new
	// Counter: a take from a different owner (l.CheckpointOwner if l is in a handoff, else
	// l.Owner), and a take of an unowned lease with a recorded OwnerSinceCounter (released
	// by a worker, see ReleaseLease). A take of a lease nobody owned before (none
	// recorded) and a take by the owner itself keep OwnerSinceCounter as it is. As for
	// OwnerSwitchesSinceCheckpoint, the move is judged from l, which the Counter condition
	// proves is still the stored lease.
	TakeLease(ctx context.Context, l Lease, owner string) (Lease, error)
	// ReleaseLease removes the owner so any worker can take the lease at once, if its
	// Owner and Counter are still l.Owner and l.Counter. It sets OwnerSinceCounter to the
	// new Counter, which marks the lease as released by a worker: the take that follows
	// is a move (a worker that shuts down gracefully releases its leases and the
	// survivors take them over), whoever takes it and however late.
	ReleaseLease(ctx context.Context, l Lease) (Lease, error)
	// Checkpoint records cp (clearing any pending checkpoint and resetting
	// OwnerSwitchesSinceCheckpoint), if the lease's Owner and Counter are still l.Owner and
	// l.Counter.
	Checkpoint(ctx context.Context, l Lease, cp ExtendedSequenceNumber) (Lease, error)
	// UpdateShardInfo records l.ChildShardIDs and the hash range (StartingHashKey,
	// EndingHashKey) on an existing lease without touching ownership or the counter
	// (ErrLeaseNotFound if it is gone). Only non-empty fields are written; empty ones leave
	// the stored values as they are.
	UpdateShardInfo(ctx context.Context, l Lease) error
	// DeleteLease removes a lease; deleting an absent lease is not an error.
	DeleteLease(ctx context.Context, key string) error
}

// HandoffStore is a Store that can hand a lease over gracefully, in the KCL 3.x shape:
// the worker taking the lease marks it (Owner = new worker, CheckpointOwner = old worker);
// the old worker notices, finishes the batch it is processing, lets its processor
// checkpoint (its writes are fenced by the Counter as always, with the Owner it read from
// the marked lease) and then ends the handoff with FinishHandoff; the new worker starts
// from that checkpoint. The new worker forces the take with TakeLease when the old one
// does not finish in time. DynamoDB and Memory implement it; a Store that does not makes
// every move immediate (the old owner loses the lease mid-batch, as in KCL 2.x).
type HandoffStore interface {
	Store
	// StartHandoff marks l for a handoff to newOwner if its Owner and Counter are still
	// l.Owner (non-empty, not newOwner) and l.Counter and no handoff is in progress: Owner
	// becomes newOwner, CheckpointOwner becomes l.Owner, the Counter is incremented.
	StartHandoff(ctx context.Context, l Lease, newOwner string) (Lease, error)
	// FinishHandoff ends the handoff of l (CheckpointOwner removed, Counter incremented),
	// if its Counter and CheckpointOwner are still l.Counter and l.CheckpointOwner (non-empty).
	// It sets OwnerSinceCounter to the new Counter: the new owner processes the lease from
	// this write on. (StartHandoff does not set it: a lease in a handoff is never moved
	// again anyway, and a handoff that is forced is a take from l.CheckpointOwner.)
	FinishHandoff(ctx context.Context, l Lease) (Lease, error)
}

var (
	// ErrLeaseConflict means a conditional write lost: the lease changed since the caller
	// read it (another worker took, renewed, released or checkpointed it, or it already
	// exists). Re-read the lease before acting on it; a worker that gets this on renew or
	// checkpoint no longer holds the lease.
	ErrLeaseConflict = errors.New("checkpoint: lease changed by another writer")
	// ErrLeaseNotFound means no lease has the requested key.
	ErrLeaseNotFound = errors.New("checkpoint: lease not found")
	// ErrInvalidLease means the arguments of a Store call are unusable (an empty key, an
	// empty new owner, an invalid checkpoint, ...); nothing was written. Fix the caller.
	ErrInvalidLease = errors.New("checkpoint: invalid lease")
)

// ConflictError is returned when a conditional write to a lease fails. It matches
// ErrLeaseConflict with errors.Is.
type ConflictError struct {
	// Op is the operation that lost ("create", "renew", "take", "release", "checkpoint").
	Op string
	// Key is the lease key.
	Key string
	// Err is the underlying store error (the DynamoDB ConditionalCheckFailedException), if any.
	Err error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("checkpoint: %s of lease %s lost its condition: the lease changed since it was read (re-read it; a renew or checkpoint conflict means this worker no longer holds it)", e.Op, e.Key)
}

// Is reports ErrLeaseConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrLeaseConflict }

// Unwrap returns the underlying store error.
func (e *ConflictError) Unwrap() error { return e.Err }
