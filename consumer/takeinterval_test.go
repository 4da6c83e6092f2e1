package consumer

import (
	"testing"
	"time"
)

func TestAdaptiveLeaseTakeIntervalGrowsWithTheTableWithinBounds(t *testing.T) {
	for _, tc := range []struct {
		leases   int
		failover time.Duration
		want     time.Duration
	}{
		{0, 10 * time.Second, time.Second},               // empty table: the 1 s floor
		{50, 10 * time.Second, time.Second},              // small table: fast handover
		{100, 10 * time.Second, time.Second},             // 100 × 10 ms = 1 s
		{250, 10 * time.Second, 2500 * time.Millisecond}, // grows linearly
		{1000, 10 * time.Second, 5 * time.Second},        // capped at FailoverTime/2
		{1000, 60 * time.Second, 10 * time.Second},       // 1,000 × 10 ms
		{100000, 60 * time.Second, 30 * time.Second},     // cap
		{0, time.Second, 500 * time.Millisecond},         // FailoverTime/2 below 1 s
		{1000, time.Second, 500 * time.Millisecond},
	} {
		if got := AdaptiveLeaseTakeInterval(tc.leases, tc.failover); got != tc.want {
			t.Errorf("AdaptiveLeaseTakeInterval(%d, %v) = %v, want %v", tc.leases, tc.failover, got, tc.want)
		}
	}
}

func TestExplicitLeaseTakeIntervalOverridesTheAdaptiveDefault(t *testing.T) {
	o := Options{LeaseTakeInterval: 3 * time.Second}
	if err := o.resolve("s"); err != nil {
		t.Fatal(err)
	}
	if o.adaptiveTake || o.LeaseTakeInterval != 3*time.Second {
		t.Errorf("explicit 3s: adaptive=%v interval=%v", o.adaptiveTake, o.LeaseTakeInterval)
	}
	o = Options{}
	if err := o.resolve("s"); err != nil {
		t.Fatal(err)
	}
	if !o.adaptiveTake || o.LeaseTakeInterval != time.Second {
		t.Errorf("default: adaptive=%v interval=%v, want adaptive starting at 1s", o.adaptiveTake, o.LeaseTakeInterval)
	}
}
