package kinesisuser

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/kinesistest"
	"github.com/kinesis-go/kinesis/producer"
)

const pipelineRecords = 10000

// pipeline puts n records with a producer and reads them all back with a
// consumer on an in-memory lease store, by polling (GetRecords) or with
// enhanced fan-out (SubscribeToShard); it returns how long that took.
func pipeline(tb testing.TB, n int, retrieval consumer.Retrieval) time.Duration {
	start := time.Now()
	srv := kinesistest.NewServer(tb)
	if err := srv.CreateStream("events", 4); err != nil {
		tb.Fatal(err)
	}
	quiet := slog.New(slog.DiscardHandler)
	p, err := producer.New(srv.Client(), "events", func(o *producer.Options) { o.Logger = quiet })
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		if err := p.Put(ctx, producer.Record{PartitionKey: fmt.Sprint("key-", i), Data: []byte(fmt.Sprint(i))}, nil); err != nil {
			tb.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		tb.Fatal(err)
	}

	var mu sync.Mutex
	seen := make(map[string]bool, n)
	c, err := consumer.New(srv.Client(), "events", checkpoint.NewMemory(),
		consumer.NewFunc(func(_ context.Context, _ string, records []consumer.Record) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range records {
				seen[string(r.Data)] = true
			}
			if len(seen) == n {
				cancel()
			}
			return nil
		}),
		func(o *consumer.Options) {
			o.InitialPosition = consumer.InitialPositionTrimHorizon
			o.Logger = quiet
			o.Retrieval = retrieval
		})
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		tb.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		tb.Fatalf("the consumer read %d of %d records", len(seen), n)
	}
	return time.Since(start)
}

// A producer puts 10,000 records, a consumer reads them all.
func TestProducerToConsumer(t *testing.T) {
	for _, r := range []consumer.Retrieval{consumer.RetrievalPolling, consumer.RetrievalFanOut} {
		t.Run(string(r), func(t *testing.T) {
			d := pipeline(t, pipelineRecords, r)
			t.Logf("%d records put and read back in %v (wall time)", pipelineRecords, d)
		})
	}
}

// BenchmarkProducerToConsumer is the same pipeline, timed: the target
// is under 1 s for 10,000 records.
func BenchmarkProducerToConsumer(b *testing.B) {
	for _, r := range []consumer.Retrieval{consumer.RetrievalPolling, consumer.RetrievalFanOut} {
		b.Run(string(r), func(b *testing.B) {
			for b.Loop() {
				pipeline(b, pipelineRecords, r)
			}
		})
	}
}
