package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// A record the processor can never handle is isolated by bisection (8 records, then
// halves: it is delivered in 2 failing calls), delivered alone 1 + MaxRetries times,
// then handed to OnFailure (package deadletter provides an OnFailure that writes
// to another stream); the shard goes on with the other records.
func ExampleOptions_failurePolicy() {
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
	for i := 1; i <= 8; i++ {
		data := fmt.Sprintf("order %d", i)
		if i == 6 {
			data = "order 6 {malformed"
		}
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("customer-", i)), Data: []byte(data)})
	}
	if _, err := srv.Client().PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: entries}); err != nil {
		log.Fatal(err)
	}

	var mu sync.Mutex
	var handled []string
	done := func() {
		if len(handled) == len(entries) {
			cancel() // stop: a graceful shutdown, Run returns nil
		}
	}
	process := consumer.NewFunc(func(ctx context.Context, shardID string, records []consumer.Record) error {
		for _, r := range records {
			if strings.Contains(string(r.Data), "{malformed") {
				return errors.New("cannot parse " + string(r.Data)) // the whole call fails
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range records {
			handled = append(handled, string(r.Data))
		}
		done()
		return nil
	})
	c, err := consumer.New(srv.Client(), "orders", checkpoint.NewMemory(), process, func(o *consumer.Options) {
		o.BisectOnError = true
		o.MaxRetries = 2
		o.OnFailure = func(ctx context.Context, f consumer.FailedRecord) error {
			// A dead-letter destination: deadletter.New(dlqProducer) in production.
			fmt.Printf("given up: %q (key %s) after %d deliveries, %s: %v\n", f.Record.Data, f.Record.PartitionKey, f.Attempts, f.Reason, f.Err)
			mu.Lock()
			defer mu.Unlock()
			handled = append(handled, "dead letter: "+string(f.Record.Data))
			done()
			return nil
		}
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(strings.Join(handled, ", "))
	// Output:
	// given up: "order 6 {malformed" (key customer-6) after 5 deliveries, RetriesExhausted: cannot parse order 6 {malformed
	// order 1, order 2, order 3, order 4, order 5, dead letter: order 6 {malformed, order 7, order 8
}
