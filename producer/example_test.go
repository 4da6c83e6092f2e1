package producer_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/internal/kinesisfake"
	"github.com/kinesis-go/kinesis/producer"
)

// newStream returns an in-memory stream for the examples. In production, pass a
// *kinesis.Client: kinesis.NewFromConfig(cfg).
func newStream(name string, shards int32) *kinesisfake.Kinesis {
	client := kinesisfake.New()
	_, err := client.CreateStream(context.Background(), &kinesis.CreateStreamInput{
		StreamName: aws.String(name), ShardCount: aws.Int32(shards),
	})
	if err != nil {
		log.Fatal(err)
	}
	return client
}

// Put records asynchronously, count the results in the callback, and Close to flush.
func Example() {
	ctx := context.Background()
	client := newStream("trades", 4)

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
	client := newStream("orders", 2)
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
