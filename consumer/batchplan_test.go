package consumer

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errPoison = errors.New("poison")

func planRecords(n int, arrival time.Time) []Record {
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{PartitionKey: fmt.Sprint(i), Data: []byte(fmt.Sprint(i)), SequenceNumber: fmt.Sprintf("%05d", i), ApproximateArrivalTimestamp: arrival}
	}
	return recs
}

// planRun drives a plan with a processor that fails every delivery containing a record
// for which fails returns an error; it returns the deliveries, the give-up steps and
// the records accepted.
type planRun struct {
	deliveries [][2]int
	attempts   []int
	gaveUp     []planStep
	accepted   []int
	splits     int
	retries    int
}

func runPlan(t *testing.T, pol failurePolicy, recs []Record, now time.Time, process func(lo, hi int) error) planRun {
	t.Helper()
	p := newBatchPlan(pol, recs)
	var r planRun
	for range 100000 {
		st := p.step(now)
		switch st.kind {
		case stepDone:
			return r
		case stepGiveUp:
			r.gaveUp = append(r.gaveUp, st)
			p.gaveUp()
		case stepDeliver:
			r.deliveries = append(r.deliveries, [2]int{st.lo, st.hi})
			r.attempts = append(r.attempts, st.attempt)
			out := p.result(process(st.lo, st.hi))
			for i := st.lo; i < st.lo+out.accepted; i++ {
				r.accepted = append(r.accepted, i)
			}
			if out.split {
				r.splits++
			}
			if out.counted {
				r.retries++
			}
		}
	}
	t.Fatal("the plan does not finish")
	return r
}

func failOn(poison ...int) func(lo, hi int) error {
	return func(lo, hi int) error {
		for _, p := range poison {
			if p >= lo && p < hi {
				return errPoison
			}
		}
		return nil
	}
}

func TestBatchPlanAcceptsAWholeBatchInOneDelivery(t *testing.T) {
	r := runPlan(t, failurePolicy{maxRetries: -1}, planRecords(10, time.Time{}), time.Now(), failOn())
	assert.Equal(t, [][2]int{{0, 10}}, r.deliveries)
	assert.Equal(t, []int{1}, r.attempts)
	assert.Len(t, r.accepted, 10)
}

func TestBatchPlanWithoutBisectionGivesTheWholeBatchUpAfterMaxRetries(t *testing.T) {
	r := runPlan(t, failurePolicy{maxRetries: 2}, planRecords(4, time.Time{}), time.Now(), failOn(2))
	assert.Equal(t, [][2]int{{0, 4}, {0, 4}, {0, 4}}, r.deliveries)
	assert.Equal(t, []int{1, 2, 3}, r.attempts)
	require.Len(t, r.gaveUp, 4)
	for i, g := range r.gaveUp {
		assert.Equal(t, i, g.lo)
		assert.Equal(t, RetriesExhausted, g.reason)
		assert.Equal(t, 3, g.attempts)
		assert.ErrorIs(t, g.err, errPoison)
	}
	assert.Empty(t, r.accepted)
}

func TestBatchPlanBisectionIsolatesThePoisonRecord(t *testing.T) {
	r := runPlan(t, failurePolicy{maxRetries: 2, bisect: true}, planRecords(8, time.Time{}), time.Now(), failOn(5))
	// [0,8) fails and is split; [0,4) is accepted, so [4,8) is split at once; [4,6)
	// fails and is split; [4,5) is accepted; 5 is delivered alone 3 times (MaxRetries 2).
	assert.Equal(t, [][2]int{{0, 8}, {0, 4}, {4, 6}, {4, 5}, {5, 6}, {5, 6}, {5, 6}, {6, 8}}, r.deliveries)
	require.Len(t, r.gaveUp, 1)
	g := r.gaveUp[0]
	assert.Equal(t, 5, g.lo)
	assert.Equal(t, 5, g.attempts) // [0,8), [4,6) and three times alone
	assert.Equal(t, RetriesExhausted, g.reason)
	assert.Equal(t, []int{0, 1, 2, 3, 4, 6, 7}, r.accepted)
	assert.Equal(t, 2, r.splits)
	assert.Equal(t, 3, r.retries)
}

func TestBatchPlanPartialFailureAcceptsThePrefixAndRetriesFromTheRecord(t *testing.T) {
	recs := planRecords(6, time.Time{})
	process := func(lo, hi int) error {
		if 3 >= lo && 3 < hi {
			return fmt.Errorf("wrapped: %w", &PartialFailure{Record: recs[3], Err: errPoison})
		}
		return nil
	}
	for _, bisect := range []bool{false, true} {
		r := runPlan(t, failurePolicy{maxRetries: 1, bisect: bisect}, recs, time.Now(), process)
		assert.Equal(t, [][2]int{{0, 6}, {3, 4}, {4, 6}}, r.deliveries, "bisect %v", bisect)
		require.Len(t, r.gaveUp, 1)
		assert.Equal(t, 3, r.gaveUp[0].lo)
		assert.Equal(t, 2, r.gaveUp[0].attempts)
		assert.Same(t, errPoison, r.gaveUp[0].err)
		assert.Equal(t, []int{0, 1, 2, 4, 5}, r.accepted)
	}
}

func TestBatchPlanPartialFailureNamingAnotherRecordIsAWholeFailure(t *testing.T) {
	recs := planRecords(4, time.Time{})
	p := newBatchPlan(failurePolicy{maxRetries: -1}, recs)
	p.step(time.Now())
	out := p.result(&PartialFailure{Record: Record{SequenceNumber: "99999"}, Err: errPoison})
	assert.True(t, out.invalidPartial)
	assert.True(t, out.counted)
	assert.Zero(t, out.accepted)
	assert.Equal(t, planStep{kind: stepDeliver, lo: 0, hi: 4, attempt: 2}, p.step(time.Now()))
}

func TestBatchPlanGivesUpTooOldRecordsWithoutDeliveringThem(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	recs := planRecords(5, now.Add(-time.Minute))
	recs[0].ApproximateArrivalTimestamp = now.Add(-2 * time.Hour)
	recs[1].ApproximateArrivalTimestamp = now.Add(-2 * time.Hour)
	r := runPlan(t, failurePolicy{maxRetries: -1, maxAge: time.Hour}, recs, now, failOn())
	require.Len(t, r.gaveUp, 2)
	for _, g := range r.gaveUp {
		assert.Equal(t, RecordTooOld, g.reason)
		assert.Zero(t, g.attempts)
		assert.ErrorIs(t, g.err, ErrRecordTooOld)
	}
	assert.Equal(t, [][2]int{{2, 5}}, r.deliveries)
}

func TestBatchPlanRetriesForeverByDefault(t *testing.T) {
	fails := 50
	r := runPlan(t, newFailurePolicy(&Options{}), planRecords(3, time.Time{}), time.Now(), func(lo, hi int) error {
		if fails > 0 {
			fails--
			return errPoison
		}
		return nil
	})
	assert.Len(t, r.deliveries, 51)
	for _, d := range r.deliveries {
		assert.Equal(t, [2]int{0, 3}, d)
	}
	assert.Empty(t, r.gaveUp)
	assert.Equal(t, 51, r.attempts[50])
}

// FuzzBatchPlan drives the plan with a processor whose outcomes come from the input
// (accept, fail, fail partially at some record, name a record outside the call) and
// checks it against a simple model: every delivery starts at the first record neither
// accepted nor given up, no record is delivered after it was accepted or given up, the
// accepted and given-up sets partition the batch, the reported attempts are the model's
// delivery counts, and a record is given up for its retries only after enough failures.
func FuzzBatchPlan(f *testing.F) {
	f.Add(uint8(10), uint8(2), true, uint8(0), []byte{1, 0, 0, 1, 0})
	f.Add(uint8(64), uint8(0), false, uint8(0), []byte{2, 7, 2, 7, 1, 1})
	f.Add(uint8(5), uint8(255), true, uint8(3), []byte{3, 1, 1, 1, 2, 0})
	f.Add(uint8(1), uint8(1), false, uint8(1), []byte{1, 1, 1})
	f.Fuzz(func(t *testing.T, n, retries uint8, bisect bool, old uint8, script []byte) {
		if n == 0 {
			return
		}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		recs := planRecords(int(n), now)
		for i := range min(int(old), int(n)) {
			recs[i].ApproximateArrivalTimestamp = now.Add(-time.Hour)
		}
		pol := failurePolicy{maxRetries: int(retries%8) - 1, bisect: bisect}
		if retries >= 128 {
			pol.maxAge = time.Minute
		}
		const (
			accepted = 1
			givenUp  = 2
		)
		status := make([]int, n)
		deliveries := make([]int, n)
		failed := make([]int, n) // failed deliveries containing the record
		p := newBatchPlan(pol, recs)
		next := func() byte {
			if len(script) == 0 {
				return 0
			}
			b := script[0]
			script = script[1:]
			return b
		}
		for steps := 0; ; steps++ {
			if steps > 100000 {
				t.Fatal("the plan does not finish")
			}
			st := p.step(now)
			done := 0
			for done < int(n) && status[done] != 0 {
				done++
			}
			switch st.kind {
			case stepDone:
				for i, s := range status {
					if s == 0 {
						t.Fatalf("done with record %d neither accepted nor given up", i)
					}
				}
				return
			case stepGiveUp:
				if st.lo != done {
					t.Fatalf("gives up record %d while %d is the first not done", st.lo, done)
				}
				if st.attempts != deliveries[st.lo] {
					t.Fatalf("record %d given up with %d attempts, delivered %d times", st.lo, st.attempts, deliveries[st.lo])
				}
				if st.err == nil {
					t.Fatalf("record %d given up without an error", st.lo)
				}
				switch st.reason {
				case RecordTooOld:
					if !pol.tooOld(recs[st.lo], now) {
						t.Fatalf("record %d given up as too old", st.lo)
					}
				case RetriesExhausted:
					if pol.maxRetries < 0 || failed[st.lo] < pol.maxRetries+1 {
						t.Fatalf("record %d given up after %d failures, MaxRetries %d", st.lo, failed[st.lo], pol.maxRetries)
					}
				default:
					t.Fatalf("reason %q", st.reason)
				}
				status[st.lo] = givenUp
				p.gaveUp()
				continue
			}
			if st.lo != done || st.hi <= st.lo || st.hi > int(n) {
				t.Fatalf("delivers [%d,%d) while %d is the first not done", st.lo, st.hi, done)
			}
			attempt := 0
			for i := st.lo; i < st.hi; i++ {
				if status[i] != 0 {
					t.Fatalf("record %d delivered again after it was done", i)
				}
				if pol.tooOld(recs[i], now) && i == st.lo {
					t.Fatalf("record %d delivered although too old", i)
				}
				deliveries[i]++
				attempt = max(attempt, deliveries[i])
			}
			if st.attempt != attempt {
				t.Fatalf("attempt %d, model %d", st.attempt, attempt)
			}
			var err error
			k := st.hi
			switch b := next(); b % 4 {
			case 1:
				err = errPoison
			case 2:
				k = st.lo + int(b/4)%(st.hi-st.lo)
				err = &PartialFailure{Record: recs[k], Err: errPoison}
			case 3:
				err = &PartialFailure{Record: Record{SequenceNumber: "elsewhere"}, Err: errPoison}
			}
			out := p.result(err)
			if err == nil || k == st.hi {
				k = st.lo // nothing accepted by a failure
				if err == nil {
					k = st.hi
				}
			}
			if out.accepted != k-st.lo {
				t.Fatalf("accepted %d, want %d", out.accepted, k-st.lo)
			}
			for i := st.lo; i < k; i++ {
				status[i] = accepted
			}
			if err != nil {
				for i := k; i < st.hi; i++ {
					failed[i]++
				}
			}
			if p.next != done+out.accepted {
				t.Fatalf("first not done %d, model %d", p.next, done+out.accepted)
			}
		}
	})
}
