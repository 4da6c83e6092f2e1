// Command kinesis-agent ships log files to Amazon Kinesis Data Streams, in the
// place of the Java Kinesis Agent and with its configuration file:
//
//	kinesis-agent -config /etc/aws-kinesis/agent.json -state /var/lib/kinesis-agent [-endpoint URL]
//
// Every line of the files matching a flow's filePattern becomes one record of the
// flow's kinesisStream (byte for byte, newline included, unless processing options
// convert it), written by this module's producer with KPL aggregation. Positions
// in the files are saved in the state directory once the lines before them were
// written, so that a crash sends again only the last seconds and a restart after
// SIGTERM sends nothing twice. SIGTERM (or SIGINT) stops gracefully; SIGHUP
// reloads the configuration. -metrics-addr serves the metrics (the agent's
// kinesis_agent_* and the producer's KPL-named ones) in the Prometheus text format.
// See the README for the configuration keys.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/agent"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the command: flags, logging, signals, then agent.Serve. It returns the
// exit code: 0 after a graceful stop, 1 on an error, 2 on bad usage.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("kinesis-agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/aws-kinesis/agent.json", "the agent configuration `file` (the Kinesis Agent's JSON shape)")
	stateDir := fs.String("state", "", "the `directory` that keeps file positions (required)")
	endpoint := fs.String("endpoint", "", "a Kinesis endpoint `URL` (e.g. a local emulator), overriding kinesis.endpoint")
	jsonLogs := fs.Bool("log-json", false, "log in JSON instead of text")
	metricsAddr := fs.String("metrics-addr", "", "serve the OpenTelemetry metrics in the Prometheus format on http://`ADDR`/metrics (e.g. 127.0.0.1:9464)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *stateDir == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: kinesis-agent -config agent.json -state DIR [-endpoint URL]")
		return 2
	}
	level := new(slog.LevelVar)
	var handler slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *jsonLogs {
		handler = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(handler)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case reload <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	load := func() (*config.Config, error) {
		c, err := config.Load(*cfgPath)
		if err != nil {
			return nil, err
		}
		level.Set(logLevel(c.LogLevel))
		if os.Getenv("GOMEMLIMIT") == "" {
			// The producer's buffer is the agent's working set: keep the heap near it
			// instead of letting it grow to twice the live data between collections.
			debug.SetMemoryLimit(4*c.MaxBufferedBytes + 16<<20)
		}
		return c, nil
	}
	mp, ms, err := meterProvider(*metricsAddr, log)
	if err != nil {
		log.Error("kinesis-agent failed", "err", err)
		return 1
	}
	if ms != nil {
		defer ms.stop()
	}
	err = agent.Serve(ctx, load, reload, agent.Options{
		StateDir: *stateDir, Endpoint: *endpoint, Logger: log, MeterProvider: mp,
	})
	if err != nil {
		log.Error("kinesis-agent failed", "err", err)
		var ce *config.Error
		if errors.As(err, &ce) {
			fmt.Fprintln(stderr, err)
		}
		return 1
	}
	return 0
}

func logLevel(s string) slog.Level {
	switch s {
	case "TRACE", "DEBUG":
		return slog.LevelDebug
	case "WARN":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	}
	return slog.LevelInfo
}
