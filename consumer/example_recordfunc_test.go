package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// A per-record handler that handles up to 50 records of a shard at once while keeping
// each customer's orders in order, against an in-process Kinesis.
func ExampleNewRecordFunc() {
	srv, err := kinesistest.Start() // in production: kinesis.NewFromConfig(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("orders", 1); err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var entries []types.PutRecordsRequestEntry
	for i := 1; i <= 3; i++ {
		for _, customer := range []string{"alice", "bob", "carol"} {
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(customer), Data: fmt.Appendf(nil, "%s order %d", customer, i)})
		}
	}
	if _, err := srv.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: entries}); err != nil {
		log.Fatal(err)
	}

	var mu sync.Mutex
	var handled []string
	handle := consumer.NewRecordFunc(func(ctx context.Context, r consumer.Record) error {
		// Called concurrently for different customers; one customer's records one at
		// a time, in order. Return an error to retry the record.
		mu.Lock()
		defer mu.Unlock()
		handled = append(handled, string(r.Data))
		if len(handled) == len(entries) {
			cancel() // stop: Run waits for the records in flight, checkpoints, returns nil
		}
		return nil
	})
	c, err := consumer.New(srv.Client(), "orders", checkpoint.NewMemory(), handle, func(o *consumer.Options) {
		o.Concurrency = 50                        // records of one shard handled at once
		o.Ordering = consumer.OrderByPartitionKey // the default
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	// Customers interleave in any order; each customer's orders stay in order.
	for _, customer := range []string{"alice", "bob", "carol"} {
		fmt.Println(slices.DeleteFunc(slices.Clone(handled), func(s string) bool { return !strings.HasPrefix(s, customer) }))
	}
	// Output:
	// [alice order 1 alice order 2 alice order 3]
	// [bob order 1 bob order 2 bob order 3]
	// [carol order 1 carol order 2 carol order 3]
}
