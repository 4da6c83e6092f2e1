package consumer

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// BenchmarkConsume measures the consumer's own cost per user record: GetRecords from the
// in-memory fake, deaggregation, hash-range filtering, dispatch through the prefetch
// channel to a processor that counts and checkpoints each batch. One op is one user
// record; the stream holds b.N records on 4 shards before the timer starts. The reader
// keeps to 5 GetRecords calls per second per shard, so the wall time (ns/op) includes
// those waits; the consumer's own cost is the CPU time per record (cpu-ns/record, and
// records/cpu-s), which the waits do not add to.
func BenchmarkConsume(b *testing.B) {
	for _, perAggregate := range []int{1, 100} {
		name := "plain"
		if perAggregate > 1 {
			name = fmt.Sprintf("aggregated%d", perAggregate)
		}
		b.Run(name, func(b *testing.B) { benchConsume(b, perAggregate, false) })
	}
	// The same backlog through a per-record handler (NewRecordFunc, Concurrency 100,
	// key order): the dispatcher's cost on top of the reading.
	b.Run("recordfunc", func(b *testing.B) { benchConsume(b, 1, true) })
}

func benchConsume(b *testing.B, perAggregate int, perRecord bool) {
	fake := kinesistest.NewServer(b).Kinesis()
	ctx := context.Background()
	if _, err := fake.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(4)}); err != nil {
		b.Fatal(err)
	}
	data := make([]byte, 100)
	var entries []types.PutRecordsRequestEntry
	flush := func() {
		if _, err := fake.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
			b.Fatal(err)
		}
		entries = entries[:0]
	}
	agg := aggregation.NewAggregator(1<<20, perAggregate)
	for i := 0; i < b.N; i++ {
		pk := fmt.Sprintf("pk-%d", i%1000)
		if perAggregate == 1 {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: data})
		} else {
			// The sub-records of one aggregate share a key, so all of them belong to the
			// shard the aggregate lands on (the others would be filtered out).
			pk = fmt.Sprintf("pk-%d", (i/perAggregate)%1000)
			if !agg.Add(aggregation.UserRecord{PartitionKey: pk, Data: data}) {
				b.Fatal("aggregate full")
			}
			if agg.Len() == perAggregate || i == b.N-1 {
				kr, _ := agg.Drain()
				e := types.PutRecordsRequestEntry{PartitionKey: aws.String(kr.PartitionKey), Data: kr.Data}
				if kr.ExplicitHashKey != "" {
					e.ExplicitHashKey = aws.String(kr.ExplicitHashKey)
				}
				entries = append(entries, e)
			}
		}
		if len(entries) == 500 || perAggregate > 1 && len(entries) == 40 {
			flush()
		}
	}
	if len(entries) > 0 {
		flush()
	}

	var got atomic.Int64
	done := make(chan struct{})
	target := int64(b.N)
	fn := func(ctx context.Context, shard string, recs []Record) error {
		if got.Add(int64(len(recs))) == target {
			close(done)
		}
		return nil
	}
	process := NewFunc(fn)
	if perRecord {
		process = NewRecordFunc(func(ctx context.Context, r Record) error {
			if got.Add(1) == target {
				close(done)
			}
			return nil
		})
	}
	c, err := New(fake, "s", checkpoint.NewMemory(), process, func(o *Options) {
		o.Concurrency = 100
		o.InitialPosition = InitialPositionTrimHorizon
		o.WorkerID = "bench"
		o.Logger = testLogger(b, "bench")
	})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	start := time.Now()
	go func() { errc <- c.Run(runCtx) }()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		b.Fatalf("consumed %d of %d records", got.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := cpuSeconds() - cpu0
	runtime.ReadMemStats(&m1)
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(cpu*1e9/float64(b.N), "cpu-ns/record")
		b.ReportMetric(float64(b.N)/cpu, "records/cpu-s")
	}
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(b.N), "allocs/record")
}
