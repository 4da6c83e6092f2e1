package producer

import (
	"context"
	"fmt"
	"math/big"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// benchClient is a Kinesis stream that answers at once (or after delay) and keeps
// nothing: the benchmarks measure the producer, not a fake. It routes every entry to
// its shard like Kinesis, since the producer checks where records land.
type benchClient struct {
	ends   []aggregation.Hash128
	ids    []string
	starts []string
	endStr []string
	seqs   []string
	delay  time.Duration
	calls  atomic.Int64
}

func newBenchClient(shards int) *benchClient {
	c := &benchClient{}
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(max, big.NewInt(int64(shards)))
	for i := range shards {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == shards-1 {
			end = new(big.Int).Sub(max, big.NewInt(1))
		}
		c.ends = append(c.ends, hashOf(end))
		c.ids = append(c.ids, fmt.Sprintf("shardId-%012d", i))
		c.starts = append(c.starts, start.String())
		c.endStr = append(c.endStr, end.String())
		c.seqs = append(c.seqs, fmt.Sprintf("%056d", i))
	}
	return c
}

func hashOf(b *big.Int) aggregation.Hash128 {
	h, err := aggregation.ParseHash128(b.String())
	if err != nil {
		panic(err)
	}
	return h
}

func (c *benchClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	c.calls.Add(1)
	if c.delay > 0 {
		time.Sleep(c.delay)
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	for i, e := range in.Records {
		var h aggregation.Hash128
		if e.ExplicitHashKey != nil {
			h, _ = aggregation.ParseHash128(*e.ExplicitHashKey)
		} else if kh, ok := benchKeyHashes[*e.PartitionKey]; ok {
			h = kh // Kinesis hashes the key; the fake need not spend our CPU on it
		} else {
			h = aggregation.HashKey(*e.PartitionKey)
		}
		s, _ := slices.BinarySearchFunc(c.ends, h, aggregation.Hash128.Compare)
		out.Records[i] = types.PutRecordsResultEntry{ShardId: &c.ids[s], SequenceNumber: &c.seqs[s]}
	}
	return out, nil
}

func (c *benchClient) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	out := &kinesis.ListShardsOutput{}
	for i := range c.ids {
		out.Shards = append(out.Shards, types.Shard{ShardId: &c.ids[i],
			HashKeyRange: &types.HashKeyRange{StartingHashKey: &c.starts[i], EndingHashKey: &c.endStr[i]}})
	}
	return out, nil
}

func (c *benchClient) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
		StreamName: in.StreamName, MaxRecordSizeInKiB: aws.Int32(1024)}}, nil
}

// benchKeys are the workload's 1,000 partition keys; benchPayload its 100-byte data.
var (
	benchKeys = func() []string {
		keys := make([]string, 1000)
		for i := range keys {
			keys[i] = fmt.Sprintf("partition-key-%04d", i)
		}
		return keys
	}()
	benchPayload   = make([]byte, 100)
	benchKeyHashes = func() map[string]aggregation.Hash128 {
		m := make(map[string]aggregation.Hash128)
		for _, k := range benchKeys {
			m[k] = aggregation.HashKey(k)
		}
		return m
	}()
)

// unlimited lifts the per-shard rate limit: the fake stream has none, and the
// benchmarks measure the producer's own cost (the limiter still runs).
func unlimited(o *Options) { o.RateLimit = 1 << 30 }

// newBenchProducer returns a producer on a fake stream whose shard map is loaded.
func newBenchProducer(b *testing.B, c *benchClient, optFns ...func(*Options)) *Producer {
	b.Helper()
	p, err := New(c, "bench", append([]func(*Options){quietB, unlimited}, optFns...)...)
	if err != nil {
		b.Fatal(err)
	}
	// Warm up: load the map, fill the pools.
	for i := range 20000 {
		_ = p.Put(context.Background(), Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: benchPayload}, nil)
	}
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return p
}

func quietB(o *Options) { quiet(o) }

func closeBench(b *testing.B, p *Producer) {
	b.Helper()
	if err := p.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPut puts 100-byte records from 1,000 keys as fast as one goroutine can
// and waits for every result; one op is one user record, end to end.
func BenchmarkPut(b *testing.B) {
	for _, shards := range []int{4, 64} {
		for _, agg := range []bool{true, false} {
			b.Run(fmt.Sprintf("shards=%d/aggregation=%v", shards, agg), func(b *testing.B) {
				p := newBenchProducer(b, newBenchClient(shards), func(o *Options) { o.DisableAggregation = !agg })
				defer closeBench(b, p)
				var failed atomic.Int64
				done := func(_ Result, err error) {
					if err != nil {
						failed.Add(1)
					}
				}
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				cpu := cpuTime()
				for i := range b.N {
					if err := p.Put(ctx, Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: benchPayload}, done); err != nil {
						b.Fatal(err)
					}
				}
				flushBench(b, p, &failed)
				b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/record")
			})
		}
	}
}

// BenchmarkPutParallel is BenchmarkPut with GOMAXPROCS goroutines putting.
func BenchmarkPutParallel(b *testing.B) {
	for _, shards := range []int{4, 64} {
		b.Run(fmt.Sprintf("shards=%d/aggregation=true", shards), func(b *testing.B) {
			p := newBenchProducer(b, newBenchClient(shards))
			defer closeBench(b, p)
			ctx := context.Background()
			var next atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := int(next.Add(1000))
				for pb.Next() {
					i++
					if err := p.Put(ctx, Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: benchPayload}, nil); err != nil {
						b.Error(err)
						return
					}
				}
			})
			if err := p.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPutLatency measures how long each Put call takes (aggregation on, 4
// shards, one goroutine putting as fast as it can) and reports percentiles.
func BenchmarkPutLatency(b *testing.B) {
	benchPutLatency(b, 0)
}

// BenchmarkPutLatencyPaced is BenchmarkPutLatency at 1M records/s, below the
// producer's capacity, like an application producing at a steady rate: Put never
// waits for room in the buffer, so this is the cost of Put itself, stalls included.
// The putting goroutine sleeps between bursts of 100 records instead of spinning, so
// that the producer's goroutines run without preempting it.
func BenchmarkPutLatencyPaced(b *testing.B) {
	benchPutLatency(b, time.Microsecond) // 1M records/s
}

// benchPutLatency measures each Put's latency and reports its distribution. With a
// non-zero interval between records, the putting goroutine sleeps between bursts of
// 100 records to keep that pace instead of spinning.
func benchPutLatency(b *testing.B, interval time.Duration) {
	p := newBenchProducer(b, newBenchClient(4))
	defer closeBench(b, p)
	ctx := context.Background()
	lat := make([]int64, b.N)
	base := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if interval > 0 && i%100 == 0 {
			if d := time.Duration(i)*interval - time.Since(base); d > 0 {
				time.Sleep(d)
			}
		}
		start := time.Since(base)
		if err := p.Put(ctx, Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: benchPayload}, nil); err != nil {
			b.Fatal(err)
		}
		lat[i] = int64(time.Since(base) - start)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[min(int(f*float64(len(lat))), len(lat)-1)]) }
	b.ReportMetric(q(0.5), "p50-ns")
	b.ReportMetric(q(0.99), "p99-ns")
	b.ReportMetric(q(0.9999), "p99.99-ns")
	b.ReportMetric(float64(lat[len(lat)-1]), "max-ns")
}

// BenchmarkPeakHeap puts 1M records as fast as possible (aggregation on, 4 shards)
// and reports the peak heap above the baseline. "instant" answers each PutRecords at
// once with the default buffer limits; "slow" answers after 20 ms, so the buffer fills
// and Put blocks, with the default limits and with MaxBufferedBytes = 8 MiB: the heap
// must stay within MaxBufferedBytes plus a small constant.
func BenchmarkPeakHeap(b *testing.B) {
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		maxBytes int64
	}{
		{"instant/default", 0, DefaultMaxBufferedBytes},
		{"slow/default", 20 * time.Millisecond, DefaultMaxBufferedBytes},
		{"slow/8MiB", 20 * time.Millisecond, 8 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for range b.N {
				c := newBenchClient(4)
				c.delay = tc.delay
				runtime.GC()
				base := liveHeap()
				p, err := New(c, "bench", quietB, unlimited, func(o *Options) { o.MaxBufferedBytes = tc.maxBytes })
				if err != nil {
					b.Fatal(err)
				}
				var peak atomic.Int64
				stop := make(chan struct{})
				var wg sync.WaitGroup
				wg.Add(1)
				go func() {
					defer wg.Done()
					t := time.NewTicker(time.Millisecond)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							if h := liveHeap() - base; h > peak.Load() {
								peak.Store(h)
							}
						}
					}
				}()
				ctx := context.Background()
				for i := range 1_000_000 {
					if err := p.Put(ctx, Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: benchPayload}, nil); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.Close(ctx); err != nil {
					b.Fatal(err)
				}
				close(stop)
				wg.Wait()
				b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
				b.ReportMetric(float64(tc.maxBytes)/(1<<20), "MaxBufferedBytes-MiB")
			}
		})
	}
}

// cpuTime is the CPU time the process used so far (user and system), in ns: the
// cost per record, whatever else runs on the machine.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// liveHeap is the heap held by objects, live or not yet swept; read without
// stopping the world.
func liveHeap() int64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// BenchmarkPreserveOrder compares PreserveOrder with the default mode against a
// stream whose PutRecords calls take 20 ms, longer than RecordMaxBufferedTime (5 ms
// here; the same happens with the default 100 ms against an endpoint slower than
// that, as kinesis-mock under load is). 200-byte records from 1,000 keys are offered
// at 500 records/s per shard, below the shard limits; one op is one user record, end
// to end (Flush included). The default mode keeps up with several calls per shard in
// flight. PreserveOrder has one call per shard in flight: it keeps up only if
// everything waiting for the shard joins the next aggregate, rather than going out
// in aggregates of 5 ms of records, one per round trip. Compare the records/s of
// mode=preserve-order with mode=default per shard count (benchstat).
func BenchmarkPreserveOrder(b *testing.B) {
	const perShard = 500 // records/s offered per shard
	data := make([]byte, 200)
	for _, shards := range []int{4, 64} {
		for _, order := range []bool{false, true} {
			b.Run(fmt.Sprintf("shards=%d/mode=%s", shards, map[bool]string{false: "default", true: "preserve-order"}[order]), func(b *testing.B) {
				c := newBenchClient(shards)
				c.delay = 20 * time.Millisecond
				p, err := New(c, "bench", quietB, func(o *Options) {
					o.PreserveOrder = order
					o.RecordMaxBufferedTime = 5 * time.Millisecond
				})
				if err != nil {
					b.Fatal(err)
				}
				defer closeBench(b, p)
				ctx := context.Background()
				if _, err := p.PutSync(ctx, Record{PartitionKey: benchKeys[0], Data: data}); err != nil {
					b.Fatal(err) // the shard map is loaded
				}
				var failed atomic.Int64
				done := func(_ Result, err error) {
					if err != nil {
						failed.Add(1)
					}
				}
				rate := float64(shards * perShard)
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					if i%shards == 0 { // a record per shard every 2 ms
						time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
					}
					if err := p.Put(ctx, Record{PartitionKey: benchKeys[i%len(benchKeys)], Data: data}, done); err != nil {
						b.Fatal(err)
					}
				}
				flushBench(b, p, &failed)
			})
		}
	}
}

// flushBench waits for every result, stops the timer, fails the benchmark if a record
// failed and reports records/s.
func flushBench(b *testing.B, p *Producer, failed *atomic.Int64) {
	b.Helper()
	if err := p.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d records failed", failed.Load())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRateLimiter admits one Kinesis record per op through a shard's rate
// limiter (two token buckets) into a batch, the clock advancing 500 µs per record:
// 2,000 records/s offered, 1,500 let through (RateLimit 150), the rest held (and
// dropped by the benchmark).
func BenchmarkRateLimiter(b *testing.B) {
	p := &Producer{}
	if err := p.opts.resolve(); err != nil {
		b.Fatal(err)
	}
	p.base = time.Now()
	d := newDispatcher(p)
	s := &shard{id: "shardId-0"}
	d.initShard(s)
	ks := make([]krec, 1000)
	for i := range ks {
		ks[i] = krec{shard: s, size: 200, expiry: 1 << 62, deadline: 1 << 62}
	}
	now := p.now()
	i, held := 0, 0
	for b.Loop() {
		k := &ks[i%len(ks)]
		i++
		s.q.fresh.pushBack(k)
		now += int64(500 * time.Microsecond)
		d.admitShard(s, now)
		if s.q.fresh.head != nil {
			s.q.fresh.popFront()
			held++
		}
		d.cut()
		for _, bt := range d.ready {
			clear(bt.recs)
			bt.recs = bt.recs[:0]
			d.free = append(d.free, bt)
		}
		clear(d.ready)
		d.ready = d.ready[:0]
	}
	b.ReportMetric(float64(held)/float64(i), "held/op")
}
