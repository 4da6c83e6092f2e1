package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// Graceful lease handoff (KCL 3.x shape, see checkpoint.HandoffStore). A planned move
// (a steal for balancing) marks the lease instead of taking it: Owner = the new worker,
// CheckpointOwner = the old one. The old worker notices (take scan or a failed renew),
// stops reading, lets the ProcessRecords in progress finish, calls ShutdownRequested so
// the processor can checkpoint, and clears CheckpointOwner. The new worker waits without
// writing (its writes would fence the old owner's checkpoint) and starts from that
// checkpoint; if the old worker does not finish within HandoffTimeout it takes the lease
// by force, which fences the old worker off as an immediate take does.

// handoffPollInterval is how often a new owner re-reads a lease it waits for (a consistent
// GetItem: 1 read unit each).
const handoffPollInterval = 100 * time.Millisecond

// handoffState is a shard goroutine's part in a handoff: as the old owner (out) or as
// the new owner (awaiting).
type handoffState struct {
	once  sync.Once
	out   chan struct{} // closed when this worker must hand the lease over
	to    string        // the new owner; set before out is closed
	since time.Time     // when this worker noticed the handoff; set before out is closed

	awaiting atomic.Bool // new owner: the old one still processes the lease
	from     string      // new owner: the old owner
	marked   time.Time   // new owner: when the lease was marked
}

func (h *handoffState) started() bool {
	select {
	case <-h.out:
		return true
	default:
		return false
	}
}

// handOverLocked starts handing the lease over: l is the marked lease as read from the
// table (CheckpointOwner is this worker). Called with s.mu held.
func (s *shard) handOverLocked(l checkpoint.Lease) {
	if l.Counter > s.lease.Counter {
		s.lease = l
		s.counter.Store(l.Counter)
		if l.Checkpoint.Compare(s.checkpointed) > 0 {
			s.checkpointed = l.Checkpoint
		}
	}
	s.handoff.once.Do(func() {
		s.handoff.to, s.handoff.since = l.Owner, time.Now()
		close(s.handoff.out)
		s.log.Info("handing the lease over to another worker (balancing); finishing the current batch", "to", l.Owner)
	})
}

// handOver is handOverLocked for callers that do not hold s.mu.
func (s *shard) handOver(l checkpoint.Lease) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done() {
		s.handOverLocked(l)
	}
}

// finishHandoff ends a handoff as the old owner, after ShutdownRequested: CheckpointOwner
// is cleared, so the new owner starts at once from the last checkpoint.
func (s *shard) finishHandoff(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done() {
		return
	}
	hs, ok := s.w.c.store.(checkpoint.HandoffStore)
	if !ok {
		return
	}
	_, err := hs.FinishHandoff(ctx, s.lease)
	s.released.Store(true)
	took := time.Since(s.handoff.since)
	if err != nil {
		// The new owner forced the take (we were too slow) or the lease moved on; either
		// way it resumes from the last checkpoint written.
		s.log.Warn("finishing the lease handoff failed; the new owner resumes from the last checkpoint", "to", s.handoff.to, "after", took, "error", err)
		return
	}
	s.log.Info("lease handed over", "to", s.handoff.to, "checkpoint", s.checkpointed.String(), "took", took)
}

// awaitHandoff waits, as the new owner, until the old owner has finished the handoff, or
// takes the lease by force after HandoffTimeout. It reports whether this worker now holds
// the lease; false when the lease went to another worker or ctx ended.
func (s *shard) awaitHandoff(ctx context.Context) bool {
	if !s.handoff.awaiting.Load() {
		return true
	}
	deadline := s.handoff.marked.Add(s.w.opts.HandoffTimeout)
	for {
		if !sleep(ctx, handoffPollInterval) {
			return false
		}
		cur, err := s.w.c.store.GetLease(ctx, s.id)
		switch {
		case errors.Is(err, checkpoint.ErrLeaseNotFound):
			s.lose("the lease was deleted during its handoff")
			return false
		case err != nil:
			if ctx.Err() != nil {
				return false
			}
			s.log.Warn("reading a lease in handoff failed; will retry", "error", err)
		case cur.Checkpoint.IsShardEnd():
			return false // the old owner finished the shard before it noticed the handoff
		case cur.Owner != s.w.opts.WorkerID:
			s.lose(fmt.Sprintf("taken by worker %q during its handoff", cur.Owner))
			return false
		case !cur.InHandoff():
			s.adoptHandedOver(cur, "graceful")
			return true
		case !time.Now().Before(deadline):
			tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.w.opts.FailoverTime)
			taken, err := s.w.c.store.TakeLease(tctx, cur, s.w.opts.WorkerID)
			cancel()
			if err == nil {
				s.log.Warn("the old owner did not finish the lease handoff in time; taken over (its records since the last checkpoint are processed again)",
					"from", s.handoff.from, "handoffTimeout", s.w.opts.HandoffTimeout)
				s.adoptHandedOver(taken, "forced")
				return true
			}
			if !errors.Is(err, checkpoint.ErrLeaseConflict) {
				s.log.Warn("forcing the lease handoff failed; will retry", "error", err)
			}
		}
	}
}

// adoptHandedOver makes l, just handed over, the shard's lease.
func (s *shard) adoptHandedOver(l checkpoint.Lease, result string) {
	s.mu.Lock()
	s.setLease(l, time.Now())
	s.checkpointed, s.start = l.Checkpoint, l.Checkpoint
	s.mu.Unlock()
	s.handoff.awaiting.Store(false)
	took := time.Since(s.handoff.marked)
	ctx := context.Background()
	s.w.m.handoffs.Add(ctx, 1, s.w.m.shardAttrs(s.id, attribute.String("result", result)))
	s.w.m.handoffTime.Record(ctx, float64(took.Microseconds())/1000, s.attrs)
	if result == "graceful" {
		s.log.Info("lease handed over to this worker", "from", s.handoff.from, "checkpoint", l.Checkpoint.String(), "took", took)
	}
}
