package awserr

import (
	"testing"
	"time"
)

func TestBackoffIsEqualJitterOfACappedExponential(t *testing.T) {
	base, ceiling := 50*time.Millisecond, 2*time.Second
	for attempt := 1; attempt <= 12; attempt++ {
		d := min(ceiling, base<<(attempt-1))
		seen := map[time.Duration]bool{}
		for range 200 {
			got := Backoff(attempt, base, ceiling)
			if got < d/2 || got > d {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, got, d/2, d)
			}
			seen[got] = true
		}
		if len(seen) < 2 {
			t.Errorf("Backoff(%d): always %v, want jitter", attempt, seen)
		}
	}
	if got := Backoff(1, 0, time.Second); got != 0 {
		t.Errorf("Backoff with a zero base = %v, want 0", got)
	}
}
