// Command demo runs the StockTradeStream example on this machine: it starts local Kinesis
// and DynamoDB emulators on loopback, creates StockTradeStream with 4 shards, runs the
// producer and the consumer together for DEMO_SECONDS (default 30) and stops everything.
// It is what `make demo` runs.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kinesis-go/kinesis/examples/stocktrade"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run() error {
	seconds := 30
	if s := os.Getenv("DEMO_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("DEMO_SECONDS must be a positive number of seconds, got %q", s)
		}
		seconds = n
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("Starting local Kinesis (kinesis-mock) and DynamoDB (dynalite) on 127.0.0.1 ...")
	env, err := testbed.Start(ctx, testbed.Options{Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
		}
		fmt.Println("Emulators stopped.")
	}()
	const stream, app = "StockTradeStream", "StockTradeStats"
	if err := env.CreateStreamNamed(ctx, stream, 4); err != nil {
		return err
	}
	fmt.Printf("Created %s with 4 shards. Producing and consuming for %d s ...\n\n", stream, seconds)

	var mu sync.Mutex // one line at a time from both apps
	pout := &prefixWriter{prefix: "[producer] ", mu: &mu, w: os.Stdout}
	cout := &prefixWriter{prefix: "[consumer] ", mu: &mu, w: os.Stdout}
	logOpts := &slog.HandlerOptions{Level: slog.LevelWarn}

	interval := max(5*time.Second, time.Duration(seconds)*time.Second/4)
	cctx, stopConsumer := context.WithCancel(ctx)
	defer stopConsumer()
	var wg sync.WaitGroup
	var consumerErr error
	var consumed stocktrade.ConsumerSummary
	var counted atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		consumed, consumerErr = stocktrade.RunConsumer(cctx, stocktrade.ConsumerConfig{
			Stream:           stream,
			App:              app,
			Endpoint:         env.KinesisEndpoint,
			DynamoDBEndpoint: env.DynamoDBEndpoint,
			Interval:         interval,
			InitialPosition:  "TRIM_HORIZON",
			Counted:          &counted,
		}, cout, slog.New(slog.NewTextHandler(cout, logOpts)))
	}()

	// The archive consumer writes every trade to files in a local directory.
	archiveDir, err := os.MkdirTemp("", "stocktrade-archive-")
	if err != nil {
		return err
	}
	aout := &prefixWriter{prefix: "[archive]  ", mu: &mu, w: os.Stdout}
	var archiveErr error
	var archived atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		archiveErr = stocktrade.RunArchive(cctx, stocktrade.ArchiveConfig{
			Stream:           stream,
			App:              "StockTradeArchive",
			Endpoint:         env.KinesisEndpoint,
			DynamoDBEndpoint: env.DynamoDBEndpoint,
			Dir:              archiveDir,
			BufferInterval:   max(2*time.Second, time.Duration(seconds)*time.Second/4),
			BufferSize:       1 << 20,
			Compression:      "gzip",
			InitialPosition:  "TRIM_HORIZON",
			Taken:            &archived,
		}, aout, slog.New(slog.NewTextHandler(aout, logOpts)))
	}()

	produced, producerErr := stocktrade.RunProducer(ctx, stocktrade.ProducerConfig{
		Stream:   stream,
		Endpoint: env.KinesisEndpoint,
		Rate:     200,
		Duration: time.Duration(seconds) * time.Second,
		Seed:     1,
		Progress: 5 * time.Second,
	}, pout, slog.New(slog.NewTextHandler(pout, logOpts)))

	// Let the consumer catch up with the last trades, then stop it (it reports once more
	// and releases its leases).
	deadline := time.Now().Add(20 * time.Second)
	for ctx.Err() == nil && producerErr == nil && time.Now().Before(deadline) {
		if counted.Load() >= produced.Confirmed && archived.Load() >= produced.Confirmed {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
	stopConsumer()
	wg.Wait()

	fmt.Printf("\nProduced %d trades (%d failed); the consumer counted %d, the archive took %d.\n", produced.Confirmed, produced.Failed, consumed.Trades, archived.Load())
	if err := showArchive(archiveDir); err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if producerErr != nil {
		return fmt.Errorf("producer: %w", producerErr)
	}
	if archiveErr != nil {
		return fmt.Errorf("archive: %w", archiveErr)
	}
	if consumerErr != nil {
		return fmt.Errorf("consumer: %w", consumerErr)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	return nil
}

// showArchive lists the files the archive consumer wrote and counts the trades in them.
func showArchive(dir string) error {
	var files []string
	trades := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if !strings.HasPrefix(rel, "trades/") {
			return nil // the sink's state objects
		}
		files = append(files, rel)
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			return err
		}
		trades += bytes.Count(b, []byte("\n"))
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("The archive consumer wrote %d trades in %d files under %s:\n", trades, len(files), dir)
	for i, f := range files {
		if i == 6 {
			fmt.Printf("  ... and %d more\n", len(files)-i)
			break
		}
		fmt.Println("  " + f)
	}
	return nil
}

// prefixWriter writes each line with a prefix, whole lines at a time.
type prefixWriter struct {
	prefix string
	mu     *sync.Mutex
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}
