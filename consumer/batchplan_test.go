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

// runPlan drives a plan with a processor that fails every delivery containing a record
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
		assert.Equal(t, [][2]int{{0, 6}, {3, 6}, {4, 6}}, r.deliveries, "bisect %v", bisect)
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
