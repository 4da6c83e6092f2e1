// Command stocktrade-consumer reads the trades of a Kinesis stream with the kinesis-go
// consumer and reports, each interval, the most popular ticker and the largest orders per
// trade type: the consumer half of the StockTradeStream example. Run several copies to
// share the shards; Ctrl-C releases this worker's leases to the others at once.
//
//	stocktrade-consumer -stream StockTradeStream -app StockTradeStats -region us-east-1
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
	cfg, err := stocktrade.ParseConsumerFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-consumer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := stocktrade.RunConsumer(ctx, cfg, os.Stdout, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-consumer:", err)
		os.Exit(1)
	}
}
