package producer_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/kinesistest"
	"github.com/kinesis-go/kinesis/producer"
)

// newStream returns a client of an in-process Kinesis (package kinesistest)
// holding the stream, for the examples. In production, pass a *kinesis.Client
// made with kinesis.NewFromConfig(cfg); in a test, use kinesistest.NewServer(t).
// Close the server when done.
func newStream(name string, shards int) (*kinesis.Client, *kinesistest.Server) {
	srv, err := kinesistest.Start()
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.CreateStream(name, shards); err != nil {
		log.Fatal(err)
	}
	return srv.Client(), srv
}

// Put records asynchronously, count the results in the callback, and Close to flush.
func Example() {
	ctx := context.Background()
	client, srv := newStream("trades", 4)
	defer srv.Close()

	p, err := producer.New(client, "trades")
	if err != nil {
		log.Fatal(err)
	}
	var written, failed atomic.Int64
	done := func(res producer.Result, err error) {
		if err != nil {
			failed.Add(1)
			log.Printf("record failed after %d attempts: %v", len(res.Attempts), err)
			return
		}
		written.Add(1)
	}
	for i := range 10000 {
		r := producer.Record{
			PartitionKey: fmt.Sprintf("ticker-%d", i%100),
			Data:         []byte(fmt.Sprintf(`{"trade":%d}`, i)),
		}
		if err := p.Put(ctx, r, done); err != nil {
			log.Fatal(err) // invalid record, or ctx ended while the buffer was full
		}
	}
	if err := p.Close(ctx); err != nil {
		log.Fatal(err)
	}
	st := p.Stats()
	fmt.Println("written:", written.Load(), "failed:", failed.Load())
	fmt.Println("aggregated:", st.KinesisRecordsPut < st.UserRecordsPut)
	// Output:
	// written: 10000 failed: 0
	// aggregated: true
}

// PutSync waits for the record's result. Flush from another goroutine, or a short
// RecordMaxBufferedTime, shortens the wait for other records to share the request.
func ExampleProducer_PutSync() {
	ctx := context.Background()
	client, srv := newStream("orders", 2)
	defer srv.Close()
	p, err := producer.New(client, "orders")
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = p.Close(ctx) }()

	res, err := p.PutSync(ctx, producer.Record{PartitionKey: "customer-42", Data: []byte("order 1")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.ShardID, len(res.Attempts), res.Attempts[0].Succeeded())
	// Output: shardId-000000000001 1 true
}
