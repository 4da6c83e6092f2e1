package stocktrade

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/sink"
)

// ArchivePrefix is where the archive consumer writes trades: a folder per trade type
// (partitioned by the JSON field tradeType) and per hour of arrival, Hive style, so
// Athena or Spark can read it as a table partitioned by type and time.
const ArchivePrefix = "trades/type=!{partitionKeyFromQuery:type}/dt=!{timestamp:yyyy-MM-dd}/hour=!{timestamp:HH}/"

// ArchiveConfig configures RunArchive; ParseArchiveFlags fills it from the command line.
type ArchiveConfig struct {
	Stream string
	// App is the application name, also the name of its DynamoDB lease table.
	App              string
	Region           string
	Endpoint         string
	DynamoDBEndpoint string
	// Dir is the local directory written to when Bucket is empty.
	Dir string
	// Bucket, when set, is the S3 bucket written to instead of Dir; S3Endpoint points at
	// a local S3.
	Bucket     string
	S3Endpoint string
	// BufferInterval and BufferSize are the sink's buffering hints.
	BufferInterval time.Duration
	BufferSize     int
	// Compression is none, gzip or zstd.
	Compression string
	// InitialPosition is where a brand-new application starts: LATEST or TRIM_HORIZON.
	InitialPosition string
	// Taken, when set, is increased by every trade the archive took (the demo watches it);
	// a taken trade is written at the latest when the archive stops.
	Taken *atomic.Int64
}

// ParseArchiveFlags parses the archive consumer's command line.
func ParseArchiveFlags(args []string, stderr io.Writer) (ArchiveConfig, error) {
	var c ArchiveConfig
	fs := flag.NewFlagSet("stocktrade-archive", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Stream, "stream", "StockTradeStream", "Kinesis stream to archive")
	common := consumingFlags{&c.App, &c.Region, &c.Endpoint, &c.DynamoDBEndpoint, &c.InitialPosition}
	common.add(fs, "StockTradeArchive", "TRIM_HORIZON", "archive")
	fs.StringVar(&c.Dir, "dir", "stocktrade-archive", "local directory to write the archive to (when -bucket is not set)")
	fs.StringVar(&c.Bucket, "bucket", "", "S3 bucket to write the archive to instead of -dir")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", "", "S3 endpoint URL for a local S3 (path-style addressing)")
	fs.DurationVar(&c.BufferInterval, "buffer-interval", 60*time.Second, "longest a trade waits before it is written")
	fs.IntVar(&c.BufferSize, "buffer-size", 5<<20, "bytes of trades per partition that make a file")
	fs.StringVar(&c.Compression, "compression", "gzip", "none, gzip or zstd")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	return c, common.check()
}

// RunArchive archives the stream's trades until ctx ends, then writes what it holds,
// checkpoints and releases its leases. Each trade is checked (Decode) on the way: one
// that is not a valid trade goes to the error output (processing-failed/...) instead.
func RunArchive(ctx context.Context, c ArchiveConfig, out io.Writer, logger *slog.Logger) error {
	cfg, err := loadAWSConfig(ctx, c.Region, c.Endpoint)
	if err != nil {
		return err
	}
	kc := kinesisClient(cfg, c.Endpoint)
	if err := checkStream(ctx, kc, c.Stream, cfg.Region, c.Endpoint); err != nil {
		return err
	}
	dest, where := sink.NewDir(c.Dir), c.Dir
	if c.Bucket != "" {
		client := s3.NewFromConfig(cfg, func(o *s3.Options) {
			if c.S3Endpoint != "" {
				o.BaseEndpoint = aws.String(c.S3Endpoint)
				o.UsePathStyle = true
			}
		})
		dest, where = sink.NewS3(client, c.Bucket), "s3://"+c.Bucket
	}
	optFns := func(o *sink.Options) {
		o.StreamName = c.Stream
		o.Prefix = ArchivePrefix
		o.PartitionKeyQueries = map[string]string{"type": ".tradeType"}
		o.BufferInterval = c.BufferInterval
		o.BufferSize = c.BufferSize
		o.Compression = sink.Compression(c.Compression)
		o.Logger = logger
		o.Transform = func(r consumer.Record) ([]byte, error) {
			if c.Taken != nil {
				c.Taken.Add(1)
			}
			if _, err := Decode(r.Data); err != nil {
				return nil, err
			}
			return r.Data, nil
		}
	}
	if err := sink.Validate(dest, optFns); err != nil {
		return err
	}
	store, err := leaseStore(cfg, c.DynamoDBEndpoint, c.App, logger)
	if err != nil {
		return err
	}
	cons, err := consumer.New(kc, c.Stream, store, sink.New(dest, optFns), func(o *consumer.Options) {
		o.ApplicationName = c.App
		o.InitialPosition = consumer.InitialPosition(c.InitialPosition)
		o.Logger = logger
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "archiving %s to %s (%s) as application %s; files at most %s apart\n", c.Stream, where, ArchivePrefix, c.App, c.BufferInterval)
	return cons.Run(ctx)
}
