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
	"io"
	"log/slog"

	"github.com/kinesis-go/kinesis/examples/stocktrade"
)

func main() {
	stocktrade.Main("stocktrade-consumer", stocktrade.ParseConsumerFlags, func(ctx context.Context, c stocktrade.ConsumerConfig, out io.Writer, logger *slog.Logger) error {
		_, err := stocktrade.RunConsumer(ctx, c, out, logger)
		return err
	})
}
