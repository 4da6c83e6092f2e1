package benchmarks

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// meter measures the timed regions of a benchmark besides what the testing
// package reports (wall time, allocations): the CPU time of the whole process
// (getrusage: every thread, the garbage collector included, and not the turns
// other processes take on this shared machine) and the peak of the heap,
// sampled every heapSampleEvery from start to report.
type meter struct {
	running bool
	t0      time.Time
	c0      int64
	wall    time.Duration
	cpuNS   int64
	cpuOK   bool
	a0      uint64 // heap allocations (objects) at resume
	allocs  uint64

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	peak     uint64
}

const heapSampleEvery = 2 * time.Millisecond

// heapObjects is the runtime metric sampled for the peak heap: bytes of heap
// memory occupied by objects, live or not yet swept. It moves with the GC
// cycle, like the heap a process really needs.
const heapObjects = "/memory/classes/heap/objects:bytes"

// startMeter collects garbage first so that earlier runs do not count, then
// starts the heap sampler and the clocks. Call it right before b.ResetTimer.
func startMeter() *meter {
	runtime.GC()
	_, ok := processCPU()
	m := &meter{stop: make(chan struct{}), done: make(chan struct{}), cpuOK: ok}
	go m.sample()
	m.resume()
	return m
}

func (m *meter) sample() {
	defer close(m.done)
	s := []metrics.Sample{{Name: heapObjects}}
	t := time.NewTicker(heapSampleEvery)
	defer t.Stop()
	for {
		metrics.Read(s)
		if s[0].Value.Kind() == metrics.KindUint64 {
			m.peak = max(m.peak, s[0].Value.Uint64())
		}
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// pause stops the clocks (not the heap sampler); resume restarts them. Use them
// with b.StopTimer and b.StartTimer around untimed setup.
func (m *meter) pause() {
	if !m.running {
		return
	}
	m.running = false
	m.wall += time.Since(m.t0)
	if t, ok := processCPU(); ok {
		m.cpuNS += t - m.c0
	}
	m.allocs += heapAllocs() - m.a0
}

func (m *meter) resume() {
	if m.running {
		return
	}
	m.running = true
	m.a0 = heapAllocs()
	m.c0, _ = processCPU()
	m.t0 = time.Now()
}

// heapAllocs returns the number of heap objects allocated so far (the count
// behind testing's allocs/op, without stopping the world).
func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// end stops the clocks and the sampler.
func (m *meter) end() {
	m.pause()
	m.stopOnce.Do(func() {
		close(m.stop)
		<-m.done
	})
}

// report ends the measurement and reports, per user record: records/s of wall
// time, CPU nanoseconds, heap allocations (with decimals, unlike allocs/op),
// and the peak heap in MB (unless withHeap is false: when the process also
// holds the fake's stored records).
func (m *meter) report(b *testing.B, records int, withHeap bool) {
	m.end()
	if records <= 0 {
		return
	}
	b.ReportMetric(float64(records)/m.wall.Seconds(), "rec/s")
	if m.cpuOK {
		b.ReportMetric(float64(m.cpuNS)/float64(records), "cpu-ns/rec")
	}
	b.ReportMetric(float64(m.allocs)/float64(records), "allocs/rec")
	if withHeap {
		b.ReportMetric(float64(m.peak)/(1<<20), "peak-heap-MB")
	}
}
