package consumer

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetrierWaitsTheReportedBackoffBetweenAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBusy := errors.New("busy")
		var delays []time.Duration
		r := retrier{base: 100 * time.Millisecond, max: time.Second, onRetry: func(attempt int, delay time.Duration, err error) {
			if attempt != len(delays)+1 || !errors.Is(err, errBusy) {
				t.Errorf("onRetry(%d, %v, %v) after %d retries", attempt, delay, err, len(delays))
			}
			delays = append(delays, delay)
		}}
		start := time.Now()
		var calls []time.Duration
		err := r.do(t.Context(), func(attempt int) error {
			calls = append(calls, time.Since(start))
			if attempt < 4 {
				return errBusy
			}
			return nil
		})
		if err != nil || len(calls) != 4 || len(delays) != 3 {
			t.Fatalf("do = %v after %d calls and %d retries, want nil after 4 and 3", err, len(calls), len(delays))
		}
		var at time.Duration
		for i, d := range delays {
			ceiling := min(time.Second, 100*time.Millisecond<<i)
			if d < ceiling/2 || d > ceiling {
				t.Errorf("retry %d waits %v, want within [%v, %v]", i+1, d, ceiling/2, ceiling)
			}
			at += d
			if calls[i+1] != at {
				t.Errorf("attempt %d at %v, want %v (after exactly the reported delays)", i+2, calls[i+1], at)
			}
		}
	})
}

func TestRetrierReturnsPermanentErrorsAtOnce(t *testing.T) {
	denied := errors.New("denied")
	calls := 0
	r := retrier{base: time.Hour, max: time.Hour, permanent: func(err error) bool { return errors.Is(err, denied) },
		onRetry: func(int, time.Duration, error) { t.Error("a permanent error was retried") }}
	if err := r.do(t.Context(), func(int) error { calls++; return denied }); !errors.Is(err, denied) || calls != 1 {
		t.Errorf("do = %v after %d calls, want the permanent error after 1", err, calls)
	}
}

func TestRetrierStopsAfterMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		r := retrier{base: time.Millisecond, max: time.Millisecond, maxAttempts: 3}
		err := r.do(t.Context(), func(attempt int) error { calls++; return errors.New("no") })
		if err == nil || err.Error() != "no" || calls != 3 {
			t.Errorf("do = %v after %d calls, want the last error after 3", err, calls)
		}
	})
}

func TestRetrierStopsWhenTheContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		calls := 0
		r := retrier{base: time.Minute, max: time.Minute, onRetry: func(int, time.Duration, error) {
			time.AfterFunc(time.Second, cancel) // cancelled while waiting
		}}
		start := time.Now()
		err := r.do(ctx, func(int) error { calls++; return errors.New("no") })
		if !errors.Is(err, context.Canceled) || calls != 1 || time.Since(start) != time.Second {
			t.Errorf("do = %v after %d calls and %v, want context.Canceled after 1 call and 1s", err, calls, time.Since(start))
		}
		// A failure after the context ended is not retried either.
		calls = 0
		if err := r.do(ctx, func(int) error { calls++; return errors.New("no") }); !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("do on an ended context = %v after %d calls", err, calls)
		}
	})
}

func TestRetrierDelayReplacesTheBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []time.Duration
		r := retrier{base: time.Hour, max: time.Hour,
			delay:   func(attempt int, err error) time.Duration { return time.Duration(attempt) * time.Second },
			onRetry: func(_ int, delay time.Duration, _ error) { got = append(got, delay) }}
		start := time.Now()
		err := r.do(t.Context(), func(attempt int) error {
			if attempt < 4 {
				return errors.New("no")
			}
			return nil
		})
		if err != nil || time.Since(start) != 6*time.Second || len(got) != 3 || got[0] != time.Second || got[2] != 3*time.Second {
			t.Errorf("do = %v after %v with delays %v, want nil after 1+2+3 s", err, time.Since(start), got)
		}
	})
}

// A failure after progress (afterProgress) starts the count again: its retry is attempt
// 1's, with attempt 1's backoff.
func TestRetrierStartsTheCountAgainAfterProgress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts []int
		r := retrier{base: time.Second, max: time.Hour, onRetry: func(attempt int, _ time.Duration, _ error) { attempts = append(attempts, attempt) }}
		errBroke := errors.New("broke")
		var ops []int
		err := r.do(t.Context(), func(attempt int) error {
			ops = append(ops, attempt)
			switch len(ops) {
			case 1, 2:
				return errBroke
			case 3:
				return afterProgress{errBroke}
			case 4:
				return errBroke
			}
			return nil
		})
		if err != nil || !slices.Equal(attempts, []int{1, 2, 1, 2}) || !slices.Equal(ops, []int{1, 2, 3, 2, 3}) {
			t.Errorf("do = %v; retries reported as attempts %v, operation called with %v; want nil, [1 2 1 2], [1 2 3 2 3]", err, attempts, ops)
		}
		if !errors.Is(afterProgress{errBroke}, errBroke) {
			t.Error("afterProgress does not unwrap to its error")
		}
	})
}
