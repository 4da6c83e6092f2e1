package consumer

import (
	"math"
	"sync/atomic"
	"time"
)

// throughputAlpha is the weight of the newest sample in a lease's smoothed throughput
// (KCL 3.x uses 0.5 too): a change of load shows within two or three renewals, one noisy
// interval moves the average only half-way.
const throughputAlpha = 0.5

// throughputMeter measures the bytes a shard's processor accepted, smoothed, for
// throughput-aware balancing. add is called by the shard goroutine, sample by renewals.
type throughputMeter struct {
	bytes atomic.Int64
	last  time.Time // guarded by the shard's mu (sample runs under it)
	kbps  float64
}

func (m *throughputMeter) add(n int) { m.bytes.Add(int64(n)) }

// sample returns the smoothed throughput in KB/s (1 KB = 1,024 bytes) up to now; the
// first call only starts the clock.
func (m *throughputMeter) sample(now time.Time) float64 {
	b := m.bytes.Swap(0)
	if m.last.IsZero() {
		m.last = now
		return 0
	}
	d := now.Sub(m.last).Seconds()
	m.last = now
	if d <= 0 {
		return m.kbps
	}
	rate := float64(b) / 1024 / d
	if m.kbps == 0 {
		m.kbps = rate
	} else {
		m.kbps = throughputAlpha*rate + (1-throughputAlpha)*m.kbps
	}
	// A resolution of 1 byte/s: a shard that went quiet decays to exactly 0 (idle) within
	// a few renewals, and the table never holds numbers DynamoDB cannot store.
	m.kbps = math.RoundToEven(m.kbps*1024) / 1024
	return m.kbps
}
