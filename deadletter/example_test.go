package deadletter_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/deadletter"
	"github.com/kinesis-go/kinesis/producer"
)

// memoryStream stands for a *producer.Producer of a stream: it keeps what is put.
type memoryStream struct{ records []producer.Record }

func (s *memoryStream) PutSync(_ context.Context, r producer.Record) (producer.Result, error) {
	s.records = append(s.records, r)
	return producer.Result{}, nil
}

func Example() {
	ctx := context.Background()
	// In production: dlq, _ := producer.New(kinesisClient, "orders-dlq"), and
	// consumer.Options.OnFailure = deadletter.New(dlq).
	dlq := &memoryStream{}
	onFailure := deadletter.New(dlq)
	// The consumer calls it for each record it gives up:
	_ = onFailure(ctx, consumer.FailedRecord{
		Record: consumer.Record{PartitionKey: "customer-42", Data: []byte(`{"sku":"X-1"}`),
			SequenceNumber: "4959", ApproximateArrivalTimestamp: time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)},
		StreamName: "orders", ShardID: "shardId-000000000003", Attempts: 3,
		Err: errors.New("inventory: unknown SKU"), Reason: consumer.RetriesExhausted,
	})
	e, _ := deadletter.Decode(dlq.records[0].Data)
	fmt.Printf("dead letter (key %s): %s %s %s, %d attempts, %s: %q\n",
		dlq.records[0].PartitionKey, e.Stream, e.ShardID, e.SequenceNumber, e.Attempts, e.Reason, e.Error)

	// Once the bug is fixed, a consumer of the dead-letter stream with
	// consumer.NewRecordFunc(deadletter.Replay(orders, nil)) puts the records back:
	orders := &memoryStream{}
	replay := deadletter.Replay(orders, nil)
	_ = replay(ctx, consumer.Record{Data: dlq.records[0].Data})
	fmt.Printf("replayed (key %s): %s\n", orders.records[0].PartitionKey, orders.records[0].Data)
	// Output:
	// dead letter (key customer-42): orders shardId-000000000003 4959, 3 attempts, RetriesExhausted: "inventory: unknown SKU"
	// replayed (key customer-42): {"sku":"X-1"}
}
