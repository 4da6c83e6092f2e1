package stocktrade

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kinesis-go/kinesis/producer"
)

// ProducerConfig configures RunProducer; ParseProducerFlags fills it from the command line.
type ProducerConfig struct {
	Stream   string
	Region   string
	Endpoint string
	// Rate is the number of trades put per second.
	Rate int
	// Duration bounds the run; Count stops after that many trades. Zero means no bound
	// (one of them, or a cancelled ctx, ends the run).
	Duration time.Duration
	Count    int64
	Seed     uint64
	// Progress is the interval between progress lines.
	Progress time.Duration
	// OnTrade, when set, sees every trade that was put successfully (tests use it).
	OnTrade func(StockTrade)
}

// ParseProducerFlags parses the producer's command line.
func ParseProducerFlags(args []string, stderr io.Writer) (ProducerConfig, error) {
	var c ProducerConfig
	fs := flag.NewFlagSet("stocktrade-producer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Stream, "stream", "StockTradeStream", "Kinesis stream to write trades to")
	addAWSFlags(fs, &c.Region, &c.Endpoint)
	fs.IntVar(&c.Rate, "rate", 100, "trades per second")
	fs.DurationVar(&c.Duration, "duration", 0, "stop after this long (e.g. 30s; default: until -count or Ctrl-C)")
	fs.Int64Var(&c.Count, "count", 0, "stop after this many trades (default: until -duration or Ctrl-C)")
	fs.Uint64Var(&c.Seed, "seed", uint64(time.Now().UnixNano()), "random seed (the same seed makes the same trades)")
	fs.DurationVar(&c.Progress, "progress", 5*time.Second, "interval between progress lines")
	if err := parseFlags(fs, args); err != nil {
		return c, err
	}
	if c.Rate <= 0 {
		return c, fmt.Errorf("-rate must be positive, got %d", c.Rate)
	}
	if c.Count < 0 || c.Duration < 0 || c.Progress <= 0 {
		return c, errors.New("-count, -duration must not be negative and -progress must be positive")
	}
	return c, nil
}

// ProducerSummary is what a producer run did.
type ProducerSummary struct {
	Put, Confirmed, Failed int64
	FirstError             error
}

// RunProducer writes generated trades to the stream at the configured rate, printing
// progress to out, until the count or duration is reached or ctx ends; then it flushes
// and returns. It returns an error if the setup failed or any trade could not be put.
func RunProducer(ctx context.Context, c ProducerConfig, out io.Writer, logger *slog.Logger) (ProducerSummary, error) {
	var sum ProducerSummary
	cfg, err := loadAWSConfig(ctx, c.Region, c.Endpoint)
	if err != nil {
		return sum, err
	}
	client := kinesisClient(cfg, c.Endpoint)
	if err := checkStream(ctx, client, c.Stream, cfg.Region, c.Endpoint); err != nil {
		return sum, err
	}
	p, err := producer.New(client, c.Stream, func(o *producer.Options) { o.Logger = logger })
	if err != nil {
		return sum, err
	}

	var put, confirmed, failed atomic.Int64
	var firstErr atomic.Pointer[error]
	gen := NewGenerator(c.Seed)
	start := time.Now()
	if c.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	tick := time.NewTicker(time.Second / time.Duration(min(c.Rate, 1000)))
	defer tick.Stop()
	perTick := max(1, c.Rate/1000)
	progress := time.NewTicker(c.Progress)
	defer progress.Stop()
	report := func(prefix string) {
		el := time.Since(start).Seconds()
		fmt.Fprintf(out, "%s: %d trades put, %d confirmed, %d failed, %.0f trades/s\n",
			prefix, put.Load(), confirmed.Load(), failed.Load(), float64(confirmed.Load())/max(el, 0.001))
	}

loop:
	for c.Count == 0 || put.Load() < c.Count {
		select {
		case <-ctx.Done():
			break loop
		case <-progress.C:
			report("producer")
			continue
		case <-tick.C:
		}
		for i := 0; i < perTick && (c.Count == 0 || put.Load() < c.Count); i++ {
			t := gen.Next()
			data, err := t.Encode()
			if err != nil {
				return sum, err
			}
			err = p.Put(ctx, producer.Record{PartitionKey: t.TickerSymbol, Data: data}, func(_ producer.Result, err error) {
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, &err)
					return
				}
				confirmed.Add(1)
				if c.OnTrade != nil {
					c.OnTrade(t)
				}
			})
			if err != nil {
				if ctx.Err() != nil {
					break loop
				}
				return sum, fmt.Errorf("putting trade %d: %w", t.ID, err)
			}
			put.Add(1)
		}
	}

	// Give the records in flight the time the producer needs to finish them (its TTL).
	cctx, cancel := context.WithTimeout(context.Background(), 35*time.Second)
	defer cancel()
	closeErr := p.Close(cctx)
	report("producer done")
	sum = ProducerSummary{Put: put.Load(), Confirmed: confirmed.Load(), Failed: failed.Load()}
	if e := firstErr.Load(); e != nil {
		sum.FirstError = *e
	}
	switch {
	case closeErr != nil:
		return sum, fmt.Errorf("closing the producer: %w", closeErr)
	case sum.Failed > 0:
		return sum, fmt.Errorf("%d of %d trades failed; first error: %w", sum.Failed, sum.Put, sum.FirstError)
	}
	return sum, nil
}
