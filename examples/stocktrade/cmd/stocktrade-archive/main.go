// Command stocktrade-archive archives the trades of a Kinesis stream to a local directory
// (the default, ./stocktrade-archive) or to S3, with the kinesis-go sink: files of JSON
// lines, gzipped, under trades/type=BUY|SELL/dt=YYYY-MM-DD/hour=HH/, each named after
// the stream, shard and sequence numbers it holds. Run several copies to share the
// shards; Ctrl-C writes what is buffered and releases this worker's leases.
//
//	stocktrade-archive -stream StockTradeStream -region us-east-1 -bucket my-archive
//
// With -endpoint and -dynamodb-endpoint it talks to local emulators (see `make demo`).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/kinesis-go/kinesis/examples/stocktrade"
)

func main() {
	cfg, err := stocktrade.ParseArchiveFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-archive:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := stocktrade.RunArchive(ctx, cfg, os.Stdout, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-archive:", err)
		os.Exit(1)
	}
}
