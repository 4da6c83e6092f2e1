package consumer

import (
	"errors"
	"time"
)

// batchPlan decides, for one batch, what the shard does next under the failure policy:
// deliver a range of the batch, give a record up, or finish. It is pure (no I/O, no
// clock of its own) so the whole decision table is tested without a shard.
//
// Records are done (accepted or given up) strictly in order: every delivery starts at
// the first record not done yet, so the processor sees the shard in order, a record is
// never delivered again once accepted, and the records before the first not-done one are
// exactly the ones a checkpoint may cover.
//
// Pending ranges form a stack of ends: the current range is [next, top end). A failed
// range of more than one record is split (BisectOnError): its first half is pushed.
// When a first half is accepted, its remainder is known to hold the failure and is
// split at once instead of being delivered whole (fewer re-deliveries than Lambda's
// plain bisection, same isolation). A record named by a PartialFailure is retried alone
// (its range end is pushed), so the records after it are delivered once more only after
// it is accepted or given up.
type batchPlan struct {
	pol  failurePolicy
	recs []Record

	next     int        // first record neither accepted nor given up
	ends     []planEnd  // pending range ends, top last; ends[0].end == len(recs)
	failures int        // counted failures of the unit at next (record or unbisected range)
	state    []recState // per record; nil until the first failure (all delivered once)
	giveUpTo int        // records [next, giveUpTo) are to be given up (giveReason)
	reason   FailureReason

	inFlight bool // a delivery was returned and its result is pending
	lo, hi   int  // the range delivered
}

type planEnd struct {
	end     int
	suspect bool // the range up to end is the remainder of a failed range whose first half was accepted
}

type recState struct {
	attempts int
	err      error // last error of a delivery that contained the record
}

type stepKind int

const (
	stepDone    stepKind = iota // every record is accepted or given up
	stepDeliver                 // deliver recs[lo:hi]
	stepGiveUp                  // give recs[lo] up (then call gaveUp)
)

// planStep is what the shard does next.
type planStep struct {
	kind    stepKind
	lo, hi  int
	attempt int // stepDeliver: ProcessRecordsInput.Attempt

	// stepGiveUp
	reason   FailureReason
	attempts int
	err      error
}

// planOutcome reports what a delivery's result did, for logs and metrics.
type planOutcome struct {
	accepted       int  // records accepted by this result
	failed         bool // the delivery failed (fully or partially)
	split          bool // the failed range was bisected
	counted        bool // the failure counts toward MaxRetries: back off before the next delivery
	failures       int  // counted failures of the failing unit so far
	invalidPartial bool // a PartialFailure named a record outside the delivered range
}

func newBatchPlan(pol failurePolicy, recs []Record) *batchPlan {
	p := &batchPlan{pol: pol, recs: recs}
	p.ends = append(make([]planEnd, 0, 4), planEnd{end: len(recs)})
	return p
}

// step returns what to do next at time now. It returns the same give-up step until
// gaveUp is called.
func (p *batchPlan) step(now time.Time) planStep {
	if p.inFlight {
		panic("consumer: batchPlan.step with a delivery in flight")
	}
	for len(p.ends) > 0 && p.ends[len(p.ends)-1].end <= p.next {
		p.ends = p.ends[:len(p.ends)-1]
	}
	if p.next >= len(p.recs) {
		return planStep{kind: stepDone}
	}
	if p.next < p.giveUpTo {
		return p.giveUpStep(p.reason, now)
	}
	if p.pol.tooOld(p.recs[p.next], now) {
		return p.giveUpStep(RecordTooOld, now)
	}
	top := &p.ends[len(p.ends)-1]
	if top.suspect && top.end-p.next > 1 {
		// The first half of this failed range was accepted: the failure is in here. The
		// remainder stays suspect until a part of it fails.
		mid := p.next + (top.end-p.next)/2
		p.ends = append(p.ends, planEnd{end: mid})
		top = &p.ends[len(p.ends)-1]
	}
	p.inFlight = true
	p.lo, p.hi = p.next, top.end
	attempt := 1
	if p.state != nil {
		for i := p.lo; i < p.hi; i++ {
			p.state[i].attempts++
			attempt = max(attempt, p.state[i].attempts)
		}
	}
	return planStep{kind: stepDeliver, lo: p.lo, hi: p.hi, attempt: attempt}
}

func (p *batchPlan) giveUpStep(reason FailureReason, now time.Time) planStep {
	i := p.next
	st := planStep{kind: stepGiveUp, lo: i, hi: i + 1, reason: reason}
	if p.state != nil {
		st.attempts, st.err = p.state[i].attempts, p.state[i].err
	}
	if st.err == nil {
		st.err = p.pol.tooOldError(p.recs[i], now)
	}
	return st
}

// gaveUp records that the record of the last give-up step was handed over: it is done.
func (p *batchPlan) gaveUp() {
	p.next++
	p.failures = 0
	if p.next >= p.giveUpTo {
		p.giveUpTo = 0
	}
}

// result records the outcome of the delivery returned by the last step: err is what
// ProcessRecords returned (nil: accepted).
func (p *batchPlan) result(err error) planOutcome {
	if !p.inFlight {
		panic("consumer: batchPlan.result without a delivery")
	}
	p.inFlight = false
	lo, hi := p.lo, p.hi
	if err == nil {
		p.next = hi
		p.failures = 0
		p.popAccepted()
		return planOutcome{accepted: hi - lo}
	}
	out := planOutcome{failed: true}
	p.ensureState()
	// A failure found in a first half explains its parent's failure: the remainder of
	// the parent is no longer suspect.
	if n := len(p.ends); n >= 2 {
		p.ends[n-2].suspect = false
	}
	var pf *PartialFailure
	if errors.As(err, &pf) {
		k := p.indexOf(pf.Record, lo, hi)
		if k < 0 {
			out.invalidPartial = true
		} else {
			cause := err
			if pf.Err != nil {
				cause = pf.Err
			}
			for i := lo; i < hi; i++ {
				p.state[i].err = cause
			}
			out.accepted = k - lo
			if k > lo {
				p.next = k
				p.failures = 0
				p.popAccepted()
			}
			if top := p.ends[len(p.ends)-1].end; top > k+1 {
				// The named record is retried alone, so the records after it are not
				// delivered again for its sake.
				p.ends = append(p.ends, planEnd{end: k + 1})
			}
			p.failures++
			out.counted, out.failures = true, p.failures
			if p.pol.exhausted(p.failures) {
				p.giveUpTo, p.reason = k+1, RetriesExhausted
			}
			return out
		}
	}
	for i := lo; i < hi; i++ {
		p.state[i].err = err
	}
	if p.pol.bisect && hi-lo > 1 {
		// Bisection attempts do not count as retries.
		p.ends = append(p.ends, planEnd{end: lo + (hi-lo)/2})
		p.ends[len(p.ends)-2].suspect = true
		out.split = true
		return out
	}
	p.failures++
	out.counted, out.failures = true, p.failures
	if p.pol.exhausted(p.failures) {
		p.giveUpTo, p.reason = hi, RetriesExhausted
	}
	return out
}

// popAccepted drops the ranges that are complete.
func (p *batchPlan) popAccepted() {
	for len(p.ends) > 0 && p.ends[len(p.ends)-1].end <= p.next {
		p.ends = p.ends[:len(p.ends)-1]
	}
}

func (p *batchPlan) ensureState() {
	if p.state != nil {
		return
	}
	p.state = make([]recState, len(p.recs))
	for i := p.lo; i < p.hi; i++ {
		p.state[i].attempts = 1 // before the first failure, only the failed delivery was made
	}
}

// indexOf finds r among recs[lo:hi] by its sequence and subsequence number; -1 when absent.
func (p *batchPlan) indexOf(r Record, lo, hi int) int {
	for i := lo; i < hi; i++ {
		if p.recs[i].SequenceNumber == r.SequenceNumber && p.recs[i].SubSequenceNumber == r.SubSequenceNumber {
			return i
		}
	}
	return -1
}
