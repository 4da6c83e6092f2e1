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

import "github.com/kinesis-go/kinesis/examples/stocktrade"

func main() {
	stocktrade.Main("stocktrade-archive", stocktrade.ParseArchiveFlags, stocktrade.RunArchive)
}
