package stocktrade

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main is the body of the example commands: it parses the command line with parse (exit
// 0 after -h, 2 on bad flags), then runs run until it returns or SIGINT/SIGTERM cancels
// its context (a graceful stop), and exits 1 if run failed.
func Main[C any](name string, parse func(args []string, stderr io.Writer) (C, error), run func(ctx context.Context, c C, out io.Writer, logger *slog.Logger) error) {
	cfg, err := parse(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, slog.Default())
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}
