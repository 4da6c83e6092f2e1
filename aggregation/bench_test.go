package aggregation

import (
	"crypto/md5"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// The benchmark workload: 100-byte records whose 16-byte partition keys are
// drawn from 1,000 keys, packed into 51,200-byte aggregates.
const (
	benchDataSize   = 100
	benchKeys       = 1000
	benchAggRecords = 500 // records per aggregate for the deaggregation benchmarks
)

func benchRecords(n int) []UserRecord {
	rng := rand.New(rand.NewPCG(42, 42))
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = fmt.Sprintf("%016x", rng.Uint64())
	}
	recs := make([]UserRecord, n)
	for i := range recs {
		data := make([]byte, benchDataSize)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		recs[i] = UserRecord{PartitionKey: keys[rng.IntN(len(keys))], Data: data}
	}
	return recs
}

// benchAggregate returns a 500-record aggregate of the workload.
func benchAggregate(tb testing.TB) []byte {
	a := NewAggregator(1<<20, benchAggRecords)
	for _, r := range benchRecords(benchAggRecords) {
		if !a.Add(r) {
			tb.Fatal("benchmark aggregate does not fit")
		}
	}
	kr, _ := a.Drain()
	return kr.Data
}

// cpuMeter reports CPU time per unit besides wall time: on a shared machine
// wall time counts other processes' turns, CPU time does not (and it includes
// the garbage collector's work on other cores).
type cpuMeter struct {
	start int64
	ok    bool
}

func startCPU() cpuMeter {
	t, ok := processCPU()
	return cpuMeter{start: t, ok: ok}
}

func (m cpuMeter) report(b *testing.B, units int, name string) {
	if t, ok := processCPU(); ok && m.ok {
		b.ReportMetric(float64(t-m.start)/float64(units), name)
	}
}

// BenchmarkAggregate measures Add+Drain; one op is one user record.
func BenchmarkAggregate(b *testing.B) {
	recs := benchRecords(1 << 14)
	a := NewAggregator(DefaultMaxSize, 0)
	b.SetBytes(benchDataSize)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := range b.N {
		r := recs[i%len(recs)]
		if !a.Add(r) {
			a.Drain()
			a.Add(r)
		}
	}
	a.Drain()
	cpu.report(b, b.N, "cpu-ns/record")
}

// BenchmarkFloorAggregate is the work no aggregating producer can avoid per
// record: the MD5 of its 16-byte partition key (to pick a shard), its share of
// the MD5 over a 51,200-byte aggregate, and copying its 100 bytes. One op is
// one user record.
func BenchmarkFloorAggregate(b *testing.B) {
	recs := benchRecords(1 << 14)
	a := NewAggregator(DefaultMaxSize, 0)
	for _, r := range recs {
		if !a.Add(r) {
			break
		}
	}
	perAggregate := a.Len()
	kr, _ := a.Drain()
	body := kr.Data[4 : len(kr.Data)-16]
	buf := make([]byte, len(body))
	var sink [16]byte
	b.SetBytes(benchDataSize)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	off := 0
	for i := range b.N {
		r := recs[i%len(recs)]
		if i%perAggregate == 0 {
			sink = md5.Sum(body)
			off = 0
		}
		off += copy(buf[off:], r.Data)
		k := md5.Sum([]byte(r.PartitionKey))
		sink[0] ^= k[0]
	}
	cpu.report(b, b.N, "cpu-ns/record")
	_ = sink
}

// BenchmarkDeaggregate decodes 500-record aggregates; one op is one aggregate,
// ns/record and allocs/record are per sub-record.
func BenchmarkDeaggregate(b *testing.B) {
	data := benchAggregate(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		recs, err := Deaggregate(data)
		if err != nil || len(recs) != benchAggRecords {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu.report(b, b.N*benchAggRecords, "cpu-ns/record")
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchAggRecords), "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*benchAggRecords), "allocs/record")
}

// BenchmarkFloorDeaggregate only verifies the MD5 of a 500-record aggregate,
// which any KCL-compatible reader must do; one op is one aggregate.
func BenchmarkFloorDeaggregate(b *testing.B) {
	data := benchAggregate(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		if !IsAggregated(data) {
			b.Fatal("not aggregated")
		}
	}
	cpu.report(b, b.N*benchAggRecords, "cpu-ns/record")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchAggRecords), "ns/record")
}

// BenchmarkHashKey hashes a 16-byte partition key.
func BenchmarkHashKey(b *testing.B) {
	keys := benchRecords(1024)
	b.ReportAllocs()
	var sink Hash128
	for i := range b.N {
		h := HashKey(keys[i%len(keys)].PartitionKey)
		sink.Lo ^= h.Lo
	}
	_ = sink
}

// BenchmarkHash128String formats a hash key in decimal, once per aggregate.
func BenchmarkHash128String(b *testing.B) {
	h := HashKey("partition-key-01")
	b.ReportAllocs()
	for range b.N {
		_ = h.String()
	}
}
