package consumer

import (
	"testing"
	"time"
)

func TestThroughputMeterSmoothsAndDecaysToZero(t *testing.T) {
	var m throughputMeter
	t0 := time.Unix(1000, 0)
	if got := m.sample(t0); got != 0 {
		t.Fatalf("first sample = %v, want 0 (it only starts the clock)", got)
	}
	m.add(2048 * 10) // 2 KB/s over 10 s
	if got := m.sample(t0.Add(10 * time.Second)); got != 2 {
		t.Fatalf("sample = %v KB/s, want 2", got)
	}
	m.add(4096 * 10) // 4 KB/s: the average moves half-way
	if got := m.sample(t0.Add(20 * time.Second)); got != 3 {
		t.Fatalf("sample = %v KB/s, want 3", got)
	}
	now := t0.Add(20 * time.Second)
	for i := 0; i < 20; i++ {
		now = now.Add(10 * time.Second)
		m.sample(now)
	}
	if got := m.sample(now.Add(10 * time.Second)); got != 0 {
		t.Fatalf("after 200 s without traffic the throughput is %v, want exactly 0", got)
	}
}
