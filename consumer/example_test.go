package consumer_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// A consumer that prints each record, against an in-process Kinesis (package
// kinesistest) and an in-memory lease store.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := kinesistest.Start() // in a test: kinesistest.NewServer(t)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("trades", 1); err != nil {
		log.Fatal(err)
	}
	client := srv.Client() // in production: kinesis.NewFromConfig(cfg)
	for _, trade := range []string{"BUY 10 ACME", "SELL 5 ACME", "BUY 1 INITECH"} {
		client.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("trades"), PartitionKey: aws.String("acme"), Data: []byte(trade)})
	}

	seen := 0
	process := consumer.NewFunc(func(ctx context.Context, shardID string, records []consumer.Record) error {
		for _, r := range records {
			fmt.Printf("%s: %s\n", shardID, r.Data)
			if seen++; seen == 3 {
				cancel() // stop after three records: Run shuts down and returns nil
			}
		}
		return nil // accepted: the consumer checkpoints the batch
	})
	c, err := consumer.New(client, "trades", checkpoint.NewMemory(), process, func(o *consumer.Options) {
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
	// Output:
	// shardId-000000000000: BUY 10 ACME
	// shardId-000000000000: SELL 5 ACME
	// shardId-000000000000: BUY 1 INITECH
}

// tradeProcessor shows the full RecordProcessor lifecycle: it checkpoints every 1,000
// records, at the shard's end and on shutdown.
type tradeProcessor struct {
	shardID   string
	sinceLast int
}

func (p *tradeProcessor) Initialize(ctx context.Context, in consumer.InitializeInput) error {
	log.Printf("shard %s: resuming after %s", in.ShardID, in.Checkpoint)
	return nil
}

func (p *tradeProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	for _, r := range in.Records {
		_ = r // store, aggregate, forward...; return an error to get the same batch again
	}
	if p.sinceLast += len(in.Records); p.sinceLast >= 1000 {
		if err := in.Checkpointer.Checkpoint(ctx); err != nil {
			return err // ErrLeaseLost: ctx is cancelled too, nothing is retried
		}
		p.sinceLast = 0
	}
	return nil
}

func (p *tradeProcessor) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	// Another worker continues from the last checkpoint; drop per-shard state.
}

func (p *tradeProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	return in.Checkpointer.Checkpoint(ctx) // SHARD_END: the children may start
}

func (p *tradeProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	return in.Checkpointer.Checkpoint(ctx) // the lease is released right after
}

// A production setup: leases in a DynamoDB table (created on first use, KCL 2.x
// compatible), one RecordProcessor per shard, a graceful stop on Ctrl-C. Start the same
// program on as many machines as needed: they share the shards through the table.
func Example_dynamoDB() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	store, err := checkpoint.NewDynamoDB(dynamodb.NewFromConfig(cfg), "trades-consumer")
	if err != nil {
		log.Fatal(err)
	}
	c, err := consumer.New(kinesis.NewFromConfig(cfg), "trades", store,
		func(shardID string) consumer.RecordProcessor { return &tradeProcessor{shardID: shardID} },
		func(o *consumer.Options) { o.InitialPosition = consumer.InitialPositionTrimHorizon })
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil { // returns nil after Ctrl-C, leases released
		log.Fatal(err)
	}
}

// Enhanced fan-out: the application registers its own stream consumer (named after the
// application, reused by every worker and every later run) and gets each shard's records
// pushed, with its own 2 MiB/s per shard, instead of polling.
func Example_fanOut() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	store, err := checkpoint.NewDynamoDB(dynamodb.NewFromConfig(cfg), "trades-alerts")
	if err != nil {
		log.Fatal(err)
	}
	c, err := consumer.New(kinesis.NewFromConfig(cfg), "trades", store,
		func(shardID string) consumer.RecordProcessor { return &tradeProcessor{shardID: shardID} },
		func(o *consumer.Options) {
			o.ApplicationName = "trades-alerts" // also the stream consumer's name
			o.Retrieval = consumer.RetrievalFanOut
		})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
