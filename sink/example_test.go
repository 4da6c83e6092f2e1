package sink_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/sink"
)

// The processor factory goes to consumer.New; here one processor is driven by hand to
// show the files it writes.
func Example() {
	dir, _ := os.MkdirTemp("", "archive")
	defer os.RemoveAll(dir)

	newProcessor := sink.New(sink.NewDir(dir), func(o *sink.Options) {
		o.StreamName = "trades"
		o.Prefix = "ticker=!{partitionKeyFromQuery:ticker}/!{timestamp:yyyy-MM-dd}/"
		o.PartitionKeyQueries = map[string]string{"ticker": ".tickerSymbol"}
		o.Compression = sink.CompressionNone
	})
	// With a consumer: consumer.New(kinesisClient, "trades", store, newProcessor).

	ctx := context.Background()
	p := newProcessor("shardId-000000000000")
	_ = p.Initialize(ctx, consumer.InitializeInput{ShardID: "shardId-000000000000"})
	arrival := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	var records []consumer.Record
	for i, data := range []string{`{"tickerSymbol":"AAPL","price":190.1}`, `{"tickerSymbol":"MSFT","price":420}`, `{"tickerSymbol":"AAPL","price":190.2}`} {
		records = append(records, consumer.Record{Data: []byte(data), SequenceNumber: fmt.Sprint(100 + i), ApproximateArrivalTimestamp: arrival})
	}
	cp := &printCheckpointer{}
	_ = p.ProcessRecords(ctx, consumer.ProcessRecordsInput{Records: records, Checkpointer: cp})
	// A graceful shutdown writes what is buffered, then checkpoints.
	_ = p.ShutdownRequested(ctx, consumer.ShutdownRequestedInput{Checkpointer: cp})

	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name()[0] != '.' { // .lock- files guard the state
			rel, _ := filepath.Rel(dir, path)
			fmt.Println(filepath.ToSlash(rel))
		}
		return nil
	})
	// Output:
	// checkpoint at 102
	// _kinesis-sink/trades/shardId-000000000000.json
	// ticker=AAPL/2026-12-03/trades-shardId-000000000000-100-102.json
	// ticker=MSFT/2026-12-03/trades-shardId-000000000000-101-101.json
}

type printCheckpointer struct{}

func (printCheckpointer) Checkpoint(context.Context) error { return nil }

func (printCheckpointer) CheckpointAt(_ context.Context, seq string, _ int64) error {
	fmt.Println("checkpoint at", seq)
	return nil
}
