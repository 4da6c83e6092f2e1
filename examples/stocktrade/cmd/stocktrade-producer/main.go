// Command stocktrade-producer writes random stock trades to a Kinesis stream with the
// kinesis-go producer: the producer half of the StockTradeStream example.
//
//	stocktrade-producer -stream StockTradeStream -region us-east-1 -rate 100 -duration 1m
//
// With -endpoint it talks to a local emulator instead of AWS (see `make demo`).
package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/kinesis-go/kinesis/examples/stocktrade"
)

func main() {
	stocktrade.Main("stocktrade-producer", stocktrade.ParseProducerFlags, func(ctx context.Context, c stocktrade.ProducerConfig, out io.Writer, logger *slog.Logger) error {
		_, err := stocktrade.RunProducer(ctx, c, out, logger)
		return err
	})
}
