package tokenbucket

import (
	"math"
	"testing"
	"time"
)

func TestBucketRefillsContinuouslyUpToOneSecondsWorth(t *testing.T) {
	t0 := 5 * time.Second // any origin
	b := New(10, t0)
	for range 10 {
		if !b.Has(1) {
			t.Fatal("a new bucket holds one second's worth")
		}
		b.Take(1)
	}
	if b.Has(1) {
		t.Fatal("empty after 10")
	}
	if got := b.Wait(1); got != 100*time.Millisecond {
		t.Fatalf("Wait = %v, want 100ms", got)
	}
	b.Refill(t0 + 500*time.Millisecond)
	if got := b.Available(); got != 5 {
		t.Fatalf("half a second refills half: %d", got)
	}
	b.Refill(t0 + time.Hour)
	if got := b.Available(); got != 10 {
		t.Fatalf("capped at one second's worth: %d", got)
	}
	b.Refill(t0) // a clock going back adds nothing
	if got := b.Available(); got != 10 {
		t.Fatalf("after the clock went back: %d", got)
	}
}

func TestBucketDebtAndOversizedRequests(t *testing.T) {
	t0 := 5 * time.Second // any origin
	b := New(4, t0)
	if !b.Has(100) {
		t.Fatal("a full bucket admits a request above its size")
	}
	b.Take(12)
	if !b.InDebt() || b.Available() != 0 {
		t.Fatal("taking 12 of 4 is 8 in debt")
	}
	if got := b.Wait(1); got != 2250*time.Millisecond {
		t.Fatalf("Wait = %v, want 2.25s (9 tokens at 4/s)", got)
	}
	b.Refill(t0 + 1999*time.Millisecond)
	if !b.InDebt() {
		t.Fatal("still in debt before 2 s")
	}
	b.Refill(t0 + 2*time.Second)
	if b.InDebt() {
		t.Fatal("debt paid after 2 s")
	}
}

func TestNegativeRateNeverLimits(t *testing.T) {
	b := New(-1, 0)
	b.Take(1e9)
	b.Refill(time.Second)
	b.Drain()
	if !b.Has(1e9) || b.InDebt() || b.Wait(1e9) != 0 || b.Available() != math.MaxInt {
		t.Fatal("a negative rate limits nothing")
	}
}

// Wait is the first nanosecond at which a Refill lets n tokens through, also when
// the rate does not divide a second evenly; Drain empties a bucket that had tokens.
func TestWaitIsTheFirstNanosecondThatAdmits(t *testing.T) {
	t0 := 5 * time.Second // any origin
	for _, tc := range []struct {
		rate int
		left float64 // tokens left in the bucket
		n    float64
		want time.Duration
	}{
		{1500, 0, 1, 666667 * time.Nanosecond},
		{1000, 0.5, 1, 500 * time.Microsecond},
		{1 << 20, 12 << 10, 500 << 10, 476562500 * time.Nanosecond}, // 488 KiB at 1 MiB/s
		{3, 0, 5, time.Second},                                      // more than the bucket holds: when it is full
	} {
		b := New(tc.rate, t0)
		b.Drain()
		b.Take(-tc.left) // gives tc.left back
		got := b.Wait(tc.n)
		if got != tc.want {
			t.Errorf("rate %d, n %v: Wait = %v, want %v", tc.rate, tc.n, got, tc.want)
		}
		early := b
		early.Refill(t0 + got - 1)
		b.Refill(t0 + got)
		if early.Has(tc.n) || !b.Has(tc.n) {
			t.Errorf("rate %d, n %v: Has(n) is %v a nanosecond early and %v at Wait", tc.rate, tc.n, early.Has(tc.n), b.Has(tc.n))
		}
	}
	b := New(10, t0)
	b.Drain()
	if b.Has(1) || b.InDebt() || b.Wait(1) != 100*time.Millisecond {
		t.Fatal("a drained bucket is empty, not in debt")
	}
}
