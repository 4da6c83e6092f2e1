package kinesisuser

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/kinesistest"
	"github.com/kinesis-go/kinesis/producer"
)

// The producer test of the README: every record gets a result, and what
// was put is in the stream.
func TestProducerWritesEveryRecord(t *testing.T) {
	srv := kinesistest.NewServer(t)
	if err := srv.CreateStream("orders", 2); err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(srv.Client(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 100 {
		rec := producer.Record{PartitionKey: fmt.Sprint("customer-", i%7), Data: []byte(fmt.Sprint("order ", i))}
		if _, err := p.PutSync(ctx, rec); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().RecordsPut; got == 0 {
		t.Fatal("nothing reached the stream")
	}
}

// The consumer test of the README: records put into the stream reach the
// processor, each at least once.
func TestConsumerReadsWhatWasPut(t *testing.T) {
	srv := kinesistest.NewServer(t)
	if err := srv.CreateStream("orders", 2); err != nil {
		t.Fatal(err)
	}
	p, err := producer.New(srv.Client(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 100 {
		if err := p.Put(ctx, producer.Record{PartitionKey: fmt.Sprint(i), Data: []byte(fmt.Sprint(i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]bool{}
	process := consumer.NewFunc(func(_ context.Context, _ string, records []consumer.Record) error {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range records {
			seen[string(r.Data)] = true
		}
		if len(seen) == 100 {
			cancel() // everything arrived: stop the consumer
		}
		return nil
	})
	c, err := consumer.New(srv.Client(), "orders", checkpoint.NewMemory(), process,
		func(o *consumer.Options) { o.InitialPosition = consumer.InitialPositionTrimHorizon })
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 100 {
		t.Fatalf("%d of 100 records read", len(seen))
	}
}
