// Command stocktrade-producer writes random stock trades to a Kinesis stream with the
// kinesis-go producer: the producer half of the StockTradeStream example.
//
//	stocktrade-producer -stream StockTradeStream -region us-east-1 -rate 100 -duration 1m
//
// With -endpoint it talks to a local emulator instead of AWS (see `make demo`).
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
	cfg, err := stocktrade.ParseProducerFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-producer:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := stocktrade.RunProducer(ctx, cfg, os.Stdout, slog.Default()); err != nil {
		fmt.Fprintln(os.Stderr, "stocktrade-producer:", err)
		os.Exit(1)
	}
}
