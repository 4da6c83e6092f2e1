package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// panicOnPurpose is the panic site of TestAPanicStackIsLoggedOncePerDistinctPanic; its
// name in a log line means the line holds the stack.
func panicOnPurpose(v string) { panic(v) }

// A processor that panics on every retry fills the log with one stack per distinct
// panic, then one short line per attempt.
func TestAPanicStackIsLoggedOncePerDistinctPanic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		putRecords(t, fake, stream, 1, 3, "a")
		var logs syncBuffer
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var attempts atomic.Int32
		proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
			switch n := attempts.Add(1); {
			case n <= 4:
				panicOnPurpose("bug A")
			case n == 5:
				panicOnPurpose("bug B")
			}
			cancel()
			return nil
		}}
		c, err := New(fake, stream, checkpoint.NewMemory(), func(string) RecordProcessor { return proc }, fastOptions(t, "w1", func(o *Options) {
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		})...)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Run(ctx); err != nil {
			t.Fatal(err)
		}
		var stacks, short []string
		for line := range strings.Lines(logs.String()) {
			switch {
			case !strings.Contains(line, "panicked"):
			case strings.Contains(line, "panicOnPurpose"):
				stacks = append(stacks, line)
			default:
				short = append(short, line)
			}
		}
		if len(stacks) != 2 || !strings.Contains(stacks[0], "bug A") || !strings.Contains(stacks[1], "bug B") {
			t.Errorf("%d log lines with a stack, want 2 (bug A once, then bug B): %q", len(stacks), stacks)
		}
		if len(short) != 3 {
			t.Fatalf("%d short lines for the repeated panic, want 3: %q", len(short), short)
		}
		for i, line := range short {
			if want := fmt.Sprintf("attempt=%d", i+2); !strings.Contains(line, want) || !strings.Contains(line, "bug A") {
				t.Errorf("short line %q lacks %s or the panic value", line, want)
			}
		}
	})
}
