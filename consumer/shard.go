package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.opentelemetry.io/otel/metric"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

// shard is one held lease and the goroutine processing it. Every store write for the
// lease (renew, checkpoint, release) happens under mu with the latest Lease, because each
// of them is conditional on, and increments, the lease counter.
type shard struct {
	w     *worker
	id    string
	log   *slog.Logger
	attrs metric.MeasurementOption

	subAttrs [2]metric.MeasurementOption // shard attributes plus success=true, false

	ctx    context.Context // cancelled on loss (cause ErrLeaseLost) or when Run's ctx ends
	cancel context.CancelCauseFunc

	mu           sync.Mutex
	lease        checkpoint.Lease
	lastWrite    time.Time                         // when the last successful write was sent
	checkpointed checkpoint.ExtendedSequenceNumber // last checkpoint written or read

	counter  atomic.Int64 // lease.Counter, readable without mu
	lost     atomic.Bool  // the lease was lost: no more writes
	released atomic.Bool  // the lease was released (or given up): no more writes

	exited    chan struct{}          // closed when the shard's goroutine returns
	inCall    atomic.Pointer[string] // the RecordProcessor method running, nil between calls
	abandoned atomic.Bool            // Run returned without this goroutine: no more processor calls

	posMu        sync.Mutex
	delivered    checkpoint.ExtendedSequenceNumber // last record passed to ProcessRecords; SHARD_END at the end
	deliveredLog deliveredLog                      // records passed since the last checkpoint

	start     checkpoint.ExtendedSequenceNumber // checkpoint when taken
	parents   []string                          // parent shards, from the lease when taken
	hashRange *aggregation.HashRange            // nil: do not filter sub-records
	cp        *shardCheckpointer

	handoff handoffState    // graceful lease handoff (handoff.go)
	meter   throughputMeter // bytes accepted by the processor, for balancing
}

func newShard(ctx context.Context, w *worker, l checkpoint.Lease, sent time.Time) *shard {
	s := &shard{
		w:            w,
		id:           l.Key,
		log:          w.log.With("shard", l.Key),
		attrs:        w.m.shardAttrs(l.Key),
		subAttrs:     [2]metric.MeasurementOption{w.m.shardAttrs(l.Key, attrSuccess), w.m.shardAttrs(l.Key, attrFailure)},
		lease:        l,
		lastWrite:    sent,
		checkpointed: l.Checkpoint,
		start:        l.Checkpoint,
		parents:      l.ParentShardIDs,
		exited:       make(chan struct{}),
		deliveredLog: deliveredLog{max: w.deliveredWindow},
	}
	s.ctx, s.cancel = context.WithCancelCause(ctx)
	s.handoff.out = make(chan struct{})
	s.counter.Store(l.Counter)
	if l.StartingHashKey != "" && l.EndingHashKey != "" {
		if hr, err := aggregation.ParseHashRange(l.StartingHashKey, l.EndingHashKey); err == nil {
			s.hashRange = &hr
		} else {
			s.log.Warn("lease has an invalid hash range; aggregated sub-records are not filtered by hash key", "error", err)
		}
	}
	s.cp = &shardCheckpointer{s: s}
	return s
}

func (s *shard) isLost() bool { return s.lost.Load() }

// done reports whether no more writes may be made for the lease.
func (s *shard) done() bool { return s.lost.Load() || s.released.Load() }

// lose marks the lease lost and stops the shard's processing at once. It does not wait
// for a write in progress: that one fails its condition.
func (s *shard) lose(reason string) {
	if s.released.Load() || !s.lost.CompareAndSwap(false, true) {
		return
	}
	s.cancel(ErrLeaseLost)
	s.w.m.lostLeases.Add(context.Background(), 1, s.attrs)
	s.log.Warn("lease lost", "reason", reason)
}

func (s *shard) setLease(l checkpoint.Lease, sent time.Time) {
	s.lease = l
	s.lastWrite = sent
	s.counter.Store(l.Counter)
}

// renew renews the lease; a conflict, or no successful write for FailoverTime, loses it.
func (s *shard) renew(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done() || s.handoff.awaiting.Load() {
		return // a new owner waiting for a handoff must not write: the old owner still does
	}
	fo := s.w.opts.FailoverTime
	rctx, cancel := context.WithTimeout(ctx, fo/2)
	defer cancel()
	sent := time.Now()
	s.lease.ThroughputKBps = s.meter.sample(sent)
	nl, err := s.w.c.store.RenewLease(rctx, s.lease)
	if err == nil {
		s.setLease(nl, sent)
		s.w.m.renewLease.Add(ctx, 1, s.w.m.workerAttrs(attrSuccess))
		return
	}
	old := s.lease.Counter
	if cur, ok := s.reconcileLocked(ctx, err); ok && cur.Counter != old {
		// The renewal (or an earlier write whose reply was lost) landed.
		s.setLease(cur, sent)
		s.w.m.renewLease.Add(ctx, 1, s.w.m.workerAttrs(attrSuccess))
		return
	}
	s.w.m.renewLease.Add(ctx, 1, s.w.m.workerAttrs(attrFailure))
	switch {
	case s.isLost(), ctx.Err() != nil:
	case time.Since(s.lastWrite) > fo:
		s.lose(fmt.Sprintf("not renewed for the failover time (%v): %v", fo, err))
	default:
		s.log.Warn("lease renewal failed; will retry", "error", err)
	}
}

// reconcileLocked re-reads the lease after a write failed with err, which may have landed
// (a timeout, a lost reply) or may have been refused because an earlier write whose reply
// was lost had changed the counter. While the table names this worker as the owner only
// this worker has written the lease since it took it (every other worker's take changes
// the owner), so the stored lease is adopted and ok is true. A lease another worker owns,
// or that was deleted, is lost. When the lease cannot be read, a conflict loses it and
// any other error leaves it as it was; ok is false in all these cases.
func (s *shard) reconcileLocked(ctx context.Context, err error) (checkpoint.Lease, bool) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.w.opts.FailoverTime/3)
	defer cancel()
	cur, gerr := s.w.c.store.GetLease(rctx, s.id)
	switch {
	case errors.Is(gerr, checkpoint.ErrLeaseNotFound):
		s.lose("the lease was deleted")
		return checkpoint.Lease{}, false
	case gerr != nil:
		if errors.Is(err, checkpoint.ErrLeaseConflict) {
			s.lose(fmt.Sprintf("write conflict (%v) and the lease cannot be read: %v", err, gerr))
		}
		return checkpoint.Lease{}, false
	case cur.Owner != s.w.opts.WorkerID && cur.CheckpointOwner == s.w.opts.WorkerID:
		// Marked for a graceful handoff: this worker may still checkpoint with the marked
		// lease, then hands it over.
		s.handOverLocked(cur)
		return cur, true
	case cur.Owner != s.w.opts.WorkerID:
		s.lose(fmt.Sprintf("taken by worker %q", cur.Owner))
		return checkpoint.Lease{}, false
	}
	if cur.Counter != s.lease.Counter {
		s.lease = cur
		s.counter.Store(cur.Counter)
		if cur.Checkpoint.Compare(s.checkpointed) > 0 {
			s.checkpointed = cur.Checkpoint
		}
	}
	return cur, true
}

// release gives the lease up so that another worker can take it at once.
func (s *shard) release(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(ctx)
}

func (s *shard) releaseLocked(ctx context.Context) {
	if s.done() {
		return
	}
	for attempt := 1; ; attempt++ {
		_, err := s.w.c.store.ReleaseLease(ctx, s.lease)
		if err == nil {
			break
		}
		old := s.lease.Counter
		if cur, ok := s.reconcileLocked(ctx, err); ok && cur.Counter != old && attempt == 1 {
			continue // an earlier write had landed: try again with the current counter
		}
		if !s.isLost() {
			s.log.Warn("releasing the lease failed; it will expire after the failover time", "error", err)
		}
		s.released.Store(true)
		return
	}
	s.released.Store(true)
	s.log.Info("lease released")
}

func (s *shard) setDelivered(p checkpoint.ExtendedSequenceNumber) {
	s.posMu.Lock()
	s.delivered = p
	s.posMu.Unlock()
}

func (s *shard) largestDelivered() checkpoint.ExtendedSequenceNumber {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return s.delivered
}

// writeCheckpoint writes pos if it is beyond the last checkpoint. explicit: pos was chosen
// by the processor and must lie between the last checkpoint and the largest delivered,
// and name a delivered record (st, what the delivered log said of it).
func (s *shard) writeCheckpoint(ctx context.Context, pos checkpoint.ExtendedSequenceNumber, explicit bool, st deliveredStatus) error {
	largest := s.largestDelivered()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isLost() {
		return fmt.Errorf("%w: shard %s is now processed by another worker; its records since the last checkpoint will be processed again there", ErrLeaseLost, s.id)
	}
	if s.released.Load() {
		return fmt.Errorf("%w: shard %s: the worker released its lease (shutdown or shard end)", ErrLeaseLost, s.id)
	}
	if explicit {
		if largest.IsZero() || pos.Compare(largest) > 0 {
			return fmt.Errorf("%w: shard %s: %s is after the last record delivered (%s)", ErrInvalidCheckpoint, s.id, pos, largest)
		}
		if pos.Compare(s.checkpointed) < 0 {
			return fmt.Errorf("%w: shard %s: %s is before the last checkpoint (%s)", ErrInvalidCheckpoint, s.id, pos, s.checkpointed)
		}
	}
	if pos.IsZero() || pos.Compare(s.checkpointed) <= 0 {
		return nil
	}
	if explicit && !pos.IsShardEnd() && st == notDelivered {
		return fmt.Errorf("%w: shard %s: %s was not delivered on this lease (a sequence number of another shard or stream, or a subsequence number its record does not have)",
			ErrInvalidCheckpoint, s.id, pos)
	}
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		nl, err := s.w.c.store.Checkpoint(ctx, s.lease, pos)
		if err == nil {
			s.setLease(nl, sent)
			s.checkpointed = pos
			s.trimDelivered(pos)
			return nil
		}
		old := s.lease.Counter
		cur, ok := s.reconcileLocked(ctx, err)
		switch {
		case s.isLost():
			return fmt.Errorf("%w: shard %s: %w", ErrLeaseLost, s.id, err)
		case ok && cur.Checkpoint.Compare(pos) == 0:
			s.lastWrite = sent // it landed
			s.trimDelivered(pos)
			return nil
		case ok && cur.Counter != old && attempt == 1 && ctx.Err() == nil:
			continue // an earlier write had landed: try again with the current counter
		}
		return fmt.Errorf("consumer: checkpoint of shard %s at %s: %w", s.id, pos, err)
	}
}

// shardCheckpointer is the Checkpointer of one lease period of a shard.
type shardCheckpointer struct{ s *shard }

func (c *shardCheckpointer) Checkpoint(ctx context.Context) error {
	return c.s.writeCheckpoint(ctx, c.s.largestDelivered(), false, wasDelivered)
}

func (c *shardCheckpointer) CheckpointAt(ctx context.Context, sequenceNumber string, subSequenceNumber int64) error {
	pos, err := checkpoint.ParseExtendedSequenceNumber(sequenceNumber, subSequenceNumber)
	if err != nil {
		return fmt.Errorf("%w: shard %s: %w", ErrInvalidCheckpoint, c.s.id, err)
	}
	if pos.IsSentinel() && !pos.IsShardEnd() {
		return fmt.Errorf("%w: shard %s: %s is not a record position", ErrInvalidCheckpoint, c.s.id, sequenceNumber)
	}
	st := c.s.deliveredStatus(pos)
	if st == maybeDelivered {
		// Delivered long ago or never: Kinesis knows whether it is a record of the shard
		// (asked outside the lease's lock, which renewals need).
		if err := c.s.checkOnShard(ctx, pos); err != nil {
			return err
		}
		st = wasDelivered
	}
	return c.s.writeCheckpoint(ctx, pos, true, st)
}

// exit reasons of a shard's processing
type exitReason int

const (
	exitShutdown exitReason = iota // Run's ctx ended
	exitLost                       // the lease was lost
	exitHandoff                    // the lease is being handed over to another worker
	exitEnded                      // the shard ended, SHARD_END written, lease released
)

// run is the shard goroutine: wait for the parents, then read and process until the
// shard ends, the lease is lost or the worker shuts down.
func (s *shard) run() {
	defer close(s.exited)
	defer s.w.shardExited(s)
	defer s.cancel(nil)

	var p RecordProcessor
	reason := s.process(&p)
	if reason == exitEnded || s.abandoned.Load() {
		return
	}
	switch {
	case s.isLost():
		reason = exitLost
	case reason == exitShutdown && s.handoff.started():
		reason = exitHandoff // a shutdown during a handoff completes the handoff
	}
	// Final calls: ctx is cancelled; give them their own bounded context.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.w.opts.ShutdownTimeout)
	defer cancel()
	switch reason {
	case exitLost:
		if p != nil {
			if err := s.call("LeaseLost", func() error { p.LeaseLost(fctx, LeaseLostInput{ShardID: s.id}); return nil }); err != nil {
				msg, attrs := s.processorFailure("LeaseLost", "the next owner resumes from the last checkpoint", err)
				s.log.Warn(msg, attrs...)
			}
		}
	case exitShutdown:
		if s.handoff.awaiting.Load() {
			// Shut down while waiting for a handoff: complete it and release the lease, so
			// another worker takes it now rather than after FailoverTime.
			if s.awaitHandoff(fctx) {
				s.release(fctx)
			}
			return
		}
		if p != nil {
			if err := s.call("ShutdownRequested", func() error {
				return p.ShutdownRequested(fctx, ShutdownRequestedInput{ShardID: s.id, Checkpointer: s.cp})
			}); err != nil {
				msg, attrs := s.processorFailure("ShutdownRequested", "the next owner resumes from the last checkpoint", err)
				s.log.Warn(msg, attrs...)
			}
		}
		s.release(fctx)
	case exitHandoff:
		if p != nil {
			if err := s.call("ShutdownRequested", func() error {
				return p.ShutdownRequested(fctx, ShutdownRequestedInput{ShardID: s.id, Checkpointer: s.cp})
			}); err != nil {
				s.log.Warn("RecordProcessor.ShutdownRequested failed during a lease handoff; the new owner resumes from the last checkpoint", "error", err)
			}
		}
		s.finishHandoff(fctx)
	}
}

// call runs a processor method, turning a panic into a *PanicError.
func (s *shard) call(method string, fn func() error) (err error) {
	s.inCall.Store(&method)
	defer s.inCall.Store(nil)
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(method, v, debug.Stack())
		}
	}()
	return fn()
}

// retry calls a processor method until it succeeds or the shard's ctx ends; it reports
// whether it succeeded.
func (s *shard) retry(method string, fn func() error) bool {
	r := s.w.retrier(func(attempt int, delay time.Duration, err error) {
		s.w.m.processorErrors.Add(context.Background(), 1, s.attrs)
		msg, attrs := s.processorFailure(method, "retrying with the same input", err)
		s.log.Error(msg, append([]any{"attempt", attempt, "delay", delay}, attrs...)...)
	})
	return r.do(s.ctx, func(int) error { return s.call(method, fn) }) == nil
}

// process runs the shard until it ends or its ctx ends. *pp is set once the processor
// was initialized.
func (s *shard) process(pp *RecordProcessor) exitReason {
	if s.start.IsShardEnd() {
		// Finished since the scan (a crash between checkpoint and release): nothing to do.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.w.opts.ShutdownTimeout)
		defer cancel()
		s.release(ctx)
		return exitEnded
	}
	if !s.awaitHandoff(s.ctx) || !s.waitParents() {
		return exitShutdown
	}
	var p RecordProcessor
	if !s.retry("Initialize", func() error {
		if p == nil {
			p = s.w.c.newProcessor(s.id)
			if p == nil {
				return errors.New("newProcessor returned nil")
			}
			s.configureProcessor(p)
		}
		return p.Initialize(s.ctx, InitializeInput{ShardID: s.id, Checkpoint: s.start})
	}) {
		return exitShutdown
	}
	*pp = p

	batches := make(chan batch, s.w.opts.MaxPrefetchBatches)
	rctx, stopReader := context.WithCancel(s.ctx)
	var reader sync.WaitGroup
	if s.w.c.fanOut != nil {
		reader.Go(func() { s.subscribe(rctx, batches) })
	} else {
		reader.Go(func() { s.read(rctx, batches) })
	}
	defer func() {
		stopReader()
		reader.Wait()
	}()

	for {
		if s.handoff.started() {
			return exitHandoff
		}
		var b batch
		select {
		case <-s.ctx.Done():
			return exitShutdown
		case <-s.handoff.out:
			return exitHandoff
		case b = <-batches:
		}
		if s.ctx.Err() != nil {
			// Both were ready: select picks at random, but no batch is passed after the
			// lease was lost or the worker began to shut down.
			return exitShutdown
		}
		if len(b.records) > 0 && !s.deliver(p, b) {
			return exitShutdown
		}
		if b.end {
			stopReader()
			reader.Wait()
			if s.end(p, b.children) {
				return exitEnded
			}
			return exitShutdown
		}
	}
}

// deliver passes one batch to ProcessRecords, in calls of at most MaxUserRecords user
// records, retrying each until it is accepted.
func (s *shard) deliver(p RecordProcessor, b batch) bool {
	records := b.records
	for len(records) > 0 {
		if s.ctx.Err() != nil {
			return false
		}
		n := len(records)
		if limit := s.w.opts.MaxUserRecords; limit > 0 && n > limit {
			n = limit
		}
		bytes := b.bytes
		if n < len(b.records) {
			bytes = 0
			for i := range n {
				bytes += len(records[i].Data)
			}
		}
		if !s.deliverCall(p, records[:n:n], bytes, b.millisBehind) {
			return false
		}
		records = records[n:]
	}
	return true
}

// deliverCall passes records to ProcessRecords under the failure policy (see batchPlan):
// the same records again after a failure, or halves of them (BisectOnError), or the rest
// after a PartialFailure, until each record is accepted or given up. It reports false when
// the shard's ctx ended first.
//
// While a call runs, Checkpoint covers the call's last record; between calls, the last
// record done (accepted or given up), so a deferred Checkpoint never passes a record the
// processor did not accept.
func (s *shard) deliverCall(p RecordProcessor, records []Record, bytes int, millisBehind int64) bool {
	before := s.largestDelivered()
	s.recordDelivered(records)
	pol := newFailurePolicy(s.w.opts)
	plan := newBatchPlan(pol, records)
	doneUpTo := func() {
		pos := before
		if plan.next > 0 {
			r := &records[plan.next-1]
			pos = checkpoint.ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
		}
		s.setDelivered(pos)
	}
	ctx := context.Background()
	for {
		st := plan.step(time.Now())
		switch st.kind {
		case stepDone:
			return true
		case stepGiveUp:
			if !s.giveUp(FailedRecord{Record: records[st.lo], StreamName: s.w.c.stream, ShardID: s.id,
				Attempts: st.attempts, Err: st.err, Reason: st.reason}) {
				return false
			}
			plan.gaveUp()
			doneUpTo()
			continue
		}
		part := records[st.lo:st.hi:st.hi]
		last := &part[len(part)-1]
		s.setDelivered(checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: last.SubSequenceNumber})
		in := ProcessRecordsInput{ShardID: s.id, Records: part, Checkpointer: s.cp, MillisBehindLatest: millisBehind, Attempt: st.attempt}
		start := time.Now()
		err := s.call("ProcessRecords", func() error { return p.ProcessRecords(s.ctx, in) })
		if err != nil && s.ctx.Err() != nil {
			doneUpTo() // a ShutdownRequested Checkpoint must not cover the interrupted call
			return false
		}
		out := plan.result(err)
		if out.accepted > 0 {
			s.w.m.processTime.Record(ctx, float64(time.Since(start).Microseconds())/1000, s.attrs)
			n := 0
			if out.accepted == len(records) {
				n = bytes
			} else {
				for i := st.lo; i < st.lo+out.accepted; i++ {
					n += len(records[i].Data)
				}
			}
			s.w.m.recordsProcessed.Add(ctx, int64(out.accepted), s.attrs)
			s.w.m.bytesProcessed.Add(ctx, int64(n), s.attrs)
			s.meter.add(n)
		}
		if err == nil {
			continue
		}
		doneUpTo()
		s.w.m.processorErrors.Add(ctx, 1, s.attrs)
		if out.invalidPartial {
			s.log.Error("processor bug: ProcessRecords returned a PartialFailure naming a record that is not one of the call's records; "+
				"the whole call counts as failed. Return the *PartialFailure with a Record from in.Records", "error", err)
		}
		first := &records[st.lo]
		coords := []any{"records", len(part), "first_sequence_number", first.SequenceNumber, "first_subsequence_number", first.SubSequenceNumber, "attempt", st.attempt}
		switch {
		case out.split:
			s.w.m.bisections.Add(ctx, 1, s.attrs)
			msg, attrs := s.processorFailure("ProcessRecords", "bisecting: delivering the first half", err)
			s.log.Warn(msg, append(coords, attrs...)...)
		case out.counted && plan.next >= plan.giveUpTo:
			s.w.m.retries.Add(ctx, 1, s.attrs)
			// The batch plan, not a retrier, decides what comes next (the same records, a
			// half, or a give-up), so this loop waits itself, with the retrier's backoff.
			delay := awserr.Backoff(out.failures, retryBaseDelay, s.w.opts.MaxRetryBackoff)
			what := "retrying"
			if out.accepted > 0 {
				what = fmt.Sprintf("retrying from the failed record (%d records before it accepted)", out.accepted)
			}
			msg, attrs := s.processorFailure("ProcessRecords", what, err)
			s.log.Error(msg, append(append(coords, "failures", out.failures, "delay", delay), attrs...)...)
			if !sleep(s.ctx, delay) {
				return false
			}
		default:
			msg, attrs := s.processorFailure("ProcessRecords", "giving up", err)
			s.log.Warn(msg, append(coords, attrs...)...)
		}
	}
}

// waitParents blocks until every parent lease is absent or at SHARD_END; false when the
// shard's ctx ended first.
func (s *shard) waitParents() bool {
	parents := s.parents
	logged := false
	for attempt := 1; ; attempt++ {
		woken := s.w.shardEnded.wait()
		var pending []string
		for _, p := range parents {
			l, err := s.w.c.store.GetLease(s.ctx, p)
			switch {
			case errors.Is(err, checkpoint.ErrLeaseNotFound):
			case err != nil:
				if s.ctx.Err() != nil {
					return false
				}
				s.log.Warn("reading a parent lease failed; will retry", "parent", p, "error", err)
				pending = append(pending, p)
			case !l.Checkpoint.IsShardEnd():
				pending = append(pending, p)
			}
		}
		if len(pending) == 0 {
			if logged {
				s.log.Info("parent shards finished; starting")
			}
			return true
		}
		if !logged {
			s.log.Info("waiting for parent shards to finish", "parents", pending)
			logged = true
		}
		t := time.NewTimer(s.w.opts.ParentShardPollInterval)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return false
		case <-woken:
		case <-t.C:
		}
		t.Stop()
	}
}

// end finishes a closed shard: child leases, ShardEnded, SHARD_END, release. It reports
// false when the shard's ctx ended first.
func (s *shard) end(p RecordProcessor, children []types.ChildShard) bool {
	ctx := s.ctx
	childIDs := make([]string, 0, len(children))
	for _, c := range children {
		id := aws.ToString(c.ShardId)
		childIDs = append(childIDs, id)
		ok, err := s.otherParentsLeased(c)
		if err != nil {
			return false // the shard's ctx ended
		}
		if !ok {
			// A merge whose other parent has no lease yet (a shard that came and went
			// during an UpdateShardCount, whose own parent has not ended): a child lease
			// now would let the child start before that parent is read. The shard sync
			// creates the missing ancestors first, then the child.
			if !s.syncUntilDone() {
				return false
			}
			continue
		}
		l := checkpoint.Lease{Key: id, Checkpoint: s.w.childPos, ParentShardIDs: c.ParentShards}
		if c.HashKeyRange != nil {
			l.StartingHashKey = aws.ToString(c.HashKeyRange.StartingHashKey)
			l.EndingHashKey = aws.ToString(c.HashKeyRange.EndingHashKey)
		}
		_, err = s.w.c.store.CreateLease(ctx, l)
		switch {
		case err == nil:
			s.log.Info("child lease created", "child", id, "parents", c.ParentShards)
		case errors.Is(err, checkpoint.ErrLeaseConflict):
		default:
			if ctx.Err() != nil {
				return false
			}
			// Not fatal: this lease stays (at SHARD_END) and the shard sync creates the
			// child from ListShards.
			s.log.Warn("creating a child lease failed; the shard sync will create it", "child", id, "error", err)
			s.w.kick(s.w.syncNow)
		}
	}
	if len(children) == 0 {
		s.w.kick(s.w.syncNow)
	} else if err := s.w.c.store.UpdateShardInfo(ctx, checkpoint.Lease{Key: s.id, ChildShardIDs: childIDs}); err != nil && ctx.Err() == nil {
		s.log.Warn("recording the child shards on the lease failed", "error", err)
	}

	s.setDelivered(checkpoint.PositionShardEnd)
	if !s.retry("ShardEnded", func() error {
		return p.ShardEnded(ctx, ShardEndedInput{ShardID: s.id, ChildShardIDs: childIDs, Checkpointer: s.cp})
	}) {
		return false
	}
	shardEnd := s.w.retrier(func(attempt int, delay time.Duration, err error) {
		s.log.Warn("checkpointing SHARD_END failed; retrying", "attempt", attempt, "delay", delay, "error", err)
	})
	if shardEnd.do(ctx, func(int) error { return s.writeCheckpoint(ctx, checkpoint.PositionShardEnd, false, wasDelivered) }) != nil {
		return false
	}
	s.log.Info("shard ended", "children", childIDs)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.w.opts.ShutdownTimeout)
	defer cancel()
	s.release(rctx)
	s.w.shardEnded.fire()
	return true
}

// otherParentsLeased reports whether every parent of child other than this shard has a
// lease. It retries failed reads; its error is the shard ctx's, when that ended first.
func (s *shard) otherParentsLeased(child types.ChildShard) (bool, error) {
	for _, p := range child.ParentShards {
		if p == s.id {
			continue
		}
		r := s.w.retrier(func(attempt int, delay time.Duration, err error) {
			s.log.Warn("reading the other parent's lease failed; retrying", "parent", p, "attempt", attempt, "delay", delay, "error", err)
		})
		r.permanent = func(err error) bool { return errors.Is(err, checkpoint.ErrLeaseNotFound) }
		err := r.do(s.ctx, func(int) error {
			_, err := s.w.c.store.GetLease(s.ctx, p)
			return err
		})
		switch {
		case errors.Is(err, checkpoint.ErrLeaseNotFound):
			return false, nil
		case err != nil:
			return false, err
		}
	}
	return true, nil
}

// syncUntilDone runs a shard sync until it succeeds; false when the shard's ctx ended.
func (s *shard) syncUntilDone() bool {
	r := s.w.retrier(func(attempt int, delay time.Duration, err error) {
		s.log.Warn("shard sync at the shard's end failed; retrying", "attempt", attempt, "delay", delay, "error", err)
	})
	return r.do(s.ctx, func(int) error { return s.w.syncShards(s.ctx) }) == nil
}
