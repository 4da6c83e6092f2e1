// Package stocktrade is the StockTradeStream example of kinesis-go, the Go counterpart of
// the classic AWS tutorial: a producer writes random stock trades (JSON, partition key =
// ticker symbol) to a stream with the producer package, and a consumer built on the
// consumer package reports, per interval and per trade type (BUY, SELL), the most popular
// ticker, the largest orders by quantity and by value, and the trade counts and totals,
// over all the shards its worker holds. The consumer checkpoints each shard after each
// report and releases its leases when it stops, so several copies share the shards.
//
// The commands are in cmd/stocktrade-producer and cmd/stocktrade-consumer, and
// cmd/stocktrade-archive archives the stream to a local directory or S3 with package sink
// (RunArchive); demo runs all three against local emulators (`make demo`) and lists the
// archived files. This package holds their shared model
// (StockTrade, Generator, Stats) and their logic (RunProducer, RunConsumer), so tests run
// them in-process. See README.md beside this file for running them against AWS.
package stocktrade
