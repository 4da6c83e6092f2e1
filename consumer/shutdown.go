package consumer

import (
	"context"
	"slices"
	"time"
)

// waitShards waits for the shard goroutines once Run's context ended and no new shard
// can start. A processor that ignores its ctx must not hold Run (and a pod's termination)
// forever: at ShutdownTimeout the shards still running are logged, at twice
// ShutdownTimeout they are abandoned (their leases released) and returned.
func (w *worker) waitShards() (overdue []*shard, waited time.Duration) {
	pending := w.heldShards()
	start := time.Now()
	timer := time.NewTimer(w.opts.ShutdownTimeout)
	defer timer.Stop()
	logged := false
	for len(pending) > 0 {
		select {
		case <-pending[0].exited:
			pending = pending[1:]
			continue
		case <-timer.C:
		}
		pending = slices.DeleteFunc(pending, (*shard).hasExited)
		if len(pending) == 0 {
			break
		}
		if !logged {
			w.log.Error("processors overdue: still running ShutdownTimeout after shutdown began (a RecordProcessor method that ignores its ctx?); waiting up to another ShutdownTimeout",
				"shutdownTimeout", w.opts.ShutdownTimeout, "shards", describeShards(pending))
			logged = true
			timer.Reset(w.opts.ShutdownTimeout)
			continue
		}
		for _, s := range pending {
			s.abandon()
		}
		return pending, time.Since(start)
	}
	return nil, time.Since(start)
}

// describeShards names each shard and the processor method it is in.
func describeShards(shards []*shard) []string {
	out := make([]string, 0, len(shards))
	for _, s := range shards {
		in := "not in a RecordProcessor call"
		if m := s.inCall.Load(); m != nil {
			in = "in RecordProcessor." + *m
		}
		out = append(out, s.id+" ("+in+")")
	}
	slices.Sort(out)
	return out
}

// shardIDs returns the sorted ids of shards.
func shardIDs(shards []*shard) []string {
	ids := make([]string, 0, len(shards))
	for _, s := range shards {
		ids = append(ids, s.id)
	}
	slices.Sort(ids)
	return ids
}

func (s *shard) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// abandon gives up waiting for the shard's goroutine, which is stuck in a processor
// call: no further processor calls are made for it, and its lease is released so another
// worker takes the shard at once. The release is skipped when a checkpoint write of the
// stuck processor holds the lease (the lease then expires after FailoverTime).
func (s *shard) abandon() {
	s.abandoned.Store(true)
	if !s.mu.TryLock() {
		s.log.Warn("lease of an overdue processor not released: one of its checkpoint writes is in progress; it expires after the failover time")
		return
	}
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.w.opts.FailoverTime/3)
	defer cancel()
	s.releaseLocked(ctx)
}
