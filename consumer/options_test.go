package consumer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
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

func TestNewValidatesItsArguments(t *testing.T) {
	fake, _ := newFakeStream(t, 1)
	store := checkpoint.NewMemory()
	proc := NewFunc(func(context.Context, string, []Record) error { return nil })
	for name, call := range map[string]func() (*Consumer, error){
		"nil client":    func() (*Consumer, error) { return New(nil, "s", store, proc) },
		"empty stream":  func() (*Consumer, error) { return New(fake, "", store, proc) },
		"nil store":     func() (*Consumer, error) { return New(fake, "s", nil, proc) },
		"nil processor": func() (*Consumer, error) { return New(fake, "s", store, nil) },
		"negative failover": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.FailoverTime = -1 })
		},
		"tiny failover": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.FailoverTime = time.Millisecond })
		},
		"max records": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxRecords = 10001 })
		},
		"bad position": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.InitialPosition = "OLDEST" })
		},
		"timestamp missing": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.InitialPosition = InitialPositionAtTimestamp })
		},
		"negative prefetch": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxPrefetchBatches = -1 })
		},
		"negative max": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxLeasesForWorker = -1 })
		},
		"negative max user records": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxUserRecords = -1 })
		},
	} {
		if _, err := call(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: got %v, want ErrInvalidOptions", name, err)
		}
	}
	c, err := New(fake, "s", store, proc)
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.FailoverTime != 10*time.Second || o.LeaseTakeInterval != time.Second || o.MaxRecords != 10000 || o.InitialPosition != InitialPositionLatest ||
		o.ShardSyncInterval != time.Minute || o.MaxPrefetchBatches != 3 || o.ApplicationName != "s" || !strings.Contains(o.WorkerID, "-") ||
		o.MaxUserRecords != 0 {
		t.Errorf("defaults: %+v", o)
	}
}

func TestNewReportsEveryInvalidOptionAtOnce(t *testing.T) {
	_, err := New(nil, "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), func(o *Options) {
		o.FailoverTime = -1
		o.MaxRecords = 10001
		o.InitialPosition = "OLDEST"
	})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New: %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"client is nil", "FailoverTime is negative", "MaxRecords 10001", `InitialPosition "OLDEST"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "below the minimum") {
		t.Errorf("a negative FailoverTime is also reported as below the minimum:\n%v", err)
	}
}
