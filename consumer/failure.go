package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// FailureReason says why the consumer gave a record up.
type FailureReason string

const (
	// RetriesExhausted: the record failed more often than Options.MaxRetries allows.
	RetriesExhausted FailureReason = "RetriesExhausted"
	// RecordTooOld: the record arrived longer than Options.MaxRecordAge ago; it is given up
	// instead of being delivered (again).
	RecordTooOld FailureReason = "RecordTooOld"
)

// NoRetries is the Options.MaxRetries value that gives a failing record up at its first
// failure (0, the zero value, retries forever).
const NoRetries = -1

// ErrRecordTooOld is the FailedRecord.Err of a record given up for its age before any
// delivery of it had failed.
var ErrRecordTooOld = errors.New("consumer: record older than MaxRecordAge")

// FailedRecord is a record the consumer gave up under the failure policy (Options.MaxRetries,
// Options.MaxRecordAge), as handed to Options.OnFailure. It carries the record itself (data,
// keys, sequence and subsequence numbers, arrival time), so a dead-letter destination needs
// nothing else to keep or replay it.
type FailedRecord struct {
	// Record is the given-up record, with its data.
	Record Record
	// StreamName is the stream the record was read from.
	StreamName string
	// ShardID is the shard the record was read from.
	ShardID string
	// Attempts is how many times the record was delivered to the processor, alone or
	// inside a batch or a half of one (0 for a record given up for its age before its
	// first delivery).
	Attempts int
	// Err is the last error of a delivery that contained the record (the Err of a
	// PartialFailure that named it, when one did), or an error matching ErrRecordTooOld
	// for a record given up for its age before any delivery of it failed. Never nil.
	Err error
	// Reason says which limit gave the record up.
	Reason FailureReason
}

// PartialFailure is returned by ProcessRecords, wrapped or as is, to report that the
// records of the call before Record were processed and Record failed with Err: the
// records before it are accepted (checkpointable, never delivered again in this lease
// period) and the batch is delivered again from Record. It is AWS Lambda's
// ReportBatchItemFailures for one failing record. Record must be one of the call's
// records (its SequenceNumber and SubSequenceNumber are compared); naming another record is
// a processor bug, logged as such, and the whole call counts as failed.
type PartialFailure struct {
	// Record is the first record of the call that was not processed.
	Record Record
	// Err is why it failed.
	Err error
}

func (e *PartialFailure) Error() string {
	return fmt.Sprintf("consumer: record %s/%d failed (the records before it are processed): %v",
		e.Record.SequenceNumber, e.Record.SubSequenceNumber, e.Err)
}

// Unwrap returns Err.
func (e *PartialFailure) Unwrap() error { return e.Err }

// failurePolicy is the resolved failure policy of Options: what happens to a record (or a
// batch) whose delivery failed. The batch path (batchPlan) and the per-record path
// (NewRecordFunc) both decide through it.
type failurePolicy struct {
	maxRetries int           // counted failures tolerated; < 0: forever
	maxAge     time.Duration // 0: no limit
	bisect     bool
}

func newFailurePolicy(o *Options) failurePolicy {
	p := failurePolicy{maxRetries: o.MaxRetries, maxAge: o.MaxRecordAge, bisect: o.BisectOnError}
	switch o.MaxRetries {
	case 0:
		p.maxRetries = -1 // forever
	case NoRetries:
		p.maxRetries = 0
	}
	return p
}

// tooOld reports whether r must be given up for its age at now.
func (p failurePolicy) tooOld(r Record, now time.Time) bool {
	return p.maxAge > 0 && !r.ApproximateArrivalTimestamp.IsZero() && now.Sub(r.ApproximateArrivalTimestamp) > p.maxAge
}

// exhausted reports whether a record (or unbisected batch) that has failed failures times
// (counted failures: bisection attempts do not count) must be given up.
func (p failurePolicy) exhausted(failures int) bool {
	return p.maxRetries >= 0 && failures > p.maxRetries
}

// decide is the per-record decision after a failure: a record that failed failures times
// (counting this one) is retried (giveUp false) or given up with reason. A record that
// is too old is given up whatever its failures.
func (p failurePolicy) decide(r Record, failures int, now time.Time) (reason FailureReason, giveUp bool) {
	switch {
	case p.tooOld(r, now):
		return RecordTooOld, true
	case p.exhausted(failures):
		return RetriesExhausted, true
	}
	return "", false
}

// tooOldError is the FailedRecord.Err of a record given up for its age before any of
// its deliveries failed.
func (p failurePolicy) tooOldError(r Record, now time.Time) error {
	return fmt.Errorf("%w: it arrived %v ago (MaxRecordAge %v)", ErrRecordTooOld,
		now.Sub(r.ApproximateArrivalTimestamp).Round(time.Millisecond), p.maxAge)
}

// giveUp gives f up: it logs one ERROR line with the record's coordinates (never its
// data), counts it, and passes it to Options.OnFailure, retrying with backoff (the shard
// waits) until OnFailure returns nil; without OnFailure the record is skipped. It reports
// false when the shard's ctx ended before OnFailure accepted the record: the record is
// then not done (it will be delivered again after a restart or takeover).
func (s *shard) giveUp(f FailedRecord) bool {
	onFailure := s.w.opts.OnFailure
	s.w.m.recordsGivenUp.Add(context.Background(), 1, s.reasonAttrs(f.Reason))
	msg := "record given up; passing it to OnFailure"
	if onFailure == nil {
		msg = "record given up and skipped (no OnFailure): process it from the stream by its sequence number if needed"
	}
	s.log.Error(msg, "sequence_number", f.Record.SequenceNumber, "subsequence_number", f.Record.SubSequenceNumber,
		"arrival", f.Record.ApproximateArrivalTimestamp, "attempts", f.Attempts, "reason", string(f.Reason), "error", f.Err)
	if onFailure == nil {
		return true
	}
	err := s.w.retrier(func(attempt int, delay time.Duration, err error) {
		s.w.m.onFailureErrors.Add(context.Background(), 1, s.attrs)
		s.log.Warn("OnFailure failed; the shard waits and hands the record over again", "sequence_number", f.Record.SequenceNumber,
			"subsequence_number", f.Record.SubSequenceNumber, "attempt", attempt, "delay", delay, "error", err)
	}).do(s.ctx, func(int) error {
		return s.call("OnFailure", func() error { return onFailure(s.ctx, f) })
	})
	return err == nil
}
