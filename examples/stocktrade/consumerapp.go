package stocktrade

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
)

// ConsumerConfig configures RunConsumer; ParseConsumerFlags fills it from the command line.
type ConsumerConfig struct {
	Stream string
	// App is the application name, also the name of the DynamoDB lease table.
	App              string
	Region           string
	Endpoint         string
	DynamoDBEndpoint string
	// Interval is the time between reports (and checkpoints).
	Interval time.Duration
	// InitialPosition is where a brand-new application starts: LATEST or TRIM_HORIZON.
	InitialPosition string
	// Counted, when set, is increased by every trade counted (the demo and tests watch it).
	Counted *atomic.Int64
}

// ParseConsumerFlags parses the consumer's command line.
func ParseConsumerFlags(args []string, stderr io.Writer) (ConsumerConfig, error) {
	var c ConsumerConfig
	fs := flag.NewFlagSet("stocktrade-consumer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Stream, "stream", "StockTradeStream", "Kinesis stream to read trades from")
	common := consumingFlags{&c.App, &c.Region, &c.Endpoint, &c.DynamoDBEndpoint, &c.InitialPosition}
	common.add(fs, "StockTradeStats", "LATEST", "application")
	fs.DurationVar(&c.Interval, "interval", 60*time.Second, "time between reports; the shards are checkpointed after each report")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.Interval <= 0 {
		return c, fmt.Errorf("-interval must be positive, got %s", c.Interval)
	}
	return c, common.check()
}

// ConsumerSummary is what a consumer run counted in total.
type ConsumerSummary struct {
	Trades int64
	Stats  *Stats
}

// RunConsumer consumes trades and prints a report every interval until ctx ends; then it
// prints a final report, checkpoints, releases its leases and returns.
func RunConsumer(ctx context.Context, c ConsumerConfig, out io.Writer, logger *slog.Logger) (ConsumerSummary, error) {
	var sum ConsumerSummary
	cfg, err := loadAWSConfig(ctx, c.Region, c.Endpoint)
	if err != nil {
		return sum, err
	}
	kc := kinesisClient(cfg, c.Endpoint)
	if err := checkStream(ctx, kc, c.Stream, cfg.Region, c.Endpoint); err != nil {
		return sum, err
	}
	store, err := leaseStore(cfg, c.DynamoDBEndpoint, c.App, logger)
	if err != nil {
		return sum, err
	}
	col := newCollector(out, logger)
	col.counted = c.Counted
	cons, err := consumer.New(kc, c.Stream, store,
		func(shardID string) consumer.RecordProcessor { return &tradeProcessor{shardID: shardID, c: col} },
		func(o *consumer.Options) {
			o.ApplicationName = c.App
			o.InitialPosition = consumer.InitialPosition(c.InitialPosition)
			o.Logger = logger
		})
	if err != nil {
		return sum, err
	}

	rctx, stopReports := context.WithCancel(context.Background())
	reportsDone := make(chan struct{})
	go func() {
		defer close(reportsDone)
		tick := time.NewTicker(c.Interval)
		defer tick.Stop()
		for {
			select {
			case <-rctx.Done():
				return
			case <-tick.C:
				col.report(rctx, "trade stats")
			}
		}
	}()
	fmt.Fprintf(out, "consuming %s as application %s; a report every %s\n", c.Stream, c.App, c.Interval)
	runErr := cons.Run(ctx)
	stopReports()
	<-reportsDone

	col.mu.Lock()
	sum = ConsumerSummary{Trades: col.total.Total(), Stats: col.total}
	col.mu.Unlock()
	sum.Stats.Report(out, "all trades counted by this worker")
	return sum, runErr
}
