package tokenbucket

import (
	"testing"
	"time"
)

func TestBucketRefillsContinuouslyUpToOneSecondsWorth(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
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
	if got := b.Wait(); got != 100*time.Millisecond {
		t.Fatalf("Wait = %v, want 100ms", got)
	}
	b.Refill(t0.Add(500 * time.Millisecond))
	if got := b.Available(); got != 5 {
		t.Fatalf("half a second refills half: %d", got)
	}
	b.Refill(t0.Add(time.Hour))
	if got := b.Available(); got != 10 {
		t.Fatalf("capped at one second's worth: %d", got)
	}
	b.Refill(t0) // a clock going back adds nothing
	if got := b.Available(); got != 10 {
		t.Fatalf("after the clock went back: %d", got)
	}
}

func TestBucketDebtAndOversizedRequests(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := New(4, t0)
	if !b.Has(100) {
		t.Fatal("a full bucket admits a request above its size")
	}
	b.Take(12)
	if !b.InDebt() || b.Available() != 0 {
		t.Fatal("taking 12 of 4 is 8 in debt")
	}
	if got := b.Wait(); got != 2250*time.Millisecond {
		t.Fatalf("Wait = %v, want 2.25s (9 tokens at 4/s)", got)
	}
	b.Refill(t0.Add(1999 * time.Millisecond))
	if !b.InDebt() {
		t.Fatal("still in debt before 2 s")
	}
	b.Refill(t0.Add(2 * time.Second))
	if b.InDebt() {
		t.Fatal("debt paid after 2 s")
	}
}

func TestNegativeRateNeverLimits(t *testing.T) {
	b := New(-1, time.Time{})
	b.Take(1e9)
	if !b.Has(1e9) || b.InDebt() || b.Wait() != 0 {
		t.Fatal("a negative rate limits nothing")
	}
}
