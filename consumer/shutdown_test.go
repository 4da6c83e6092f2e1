package consumer

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// A processor that ignores its ctx must not keep Run from returning: at ShutdownTimeout
// the overdue shards are logged, at twice ShutdownTimeout Run releases their leases and
// returns an error naming them.
func TestRunReturnsWithinTwiceShutdownTimeoutWhenAProcessorIgnoresItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		putRecords(t, fake, stream, 8, 40, "a")
		const stuckShard, goodShard = "shardId-000000000000", "shardId-000000000001"
		stuck := make(chan struct{})   // closed when the stuck processor is inside ProcessRecords
		unblock := make(chan struct{}) // closed at the end of the test: the processor returns
		defer close(unblock)           // the abandoned goroutine ends without further processor calls
		goodStarted := make(chan struct{})
		newProc := func(shardID string) RecordProcessor {
			if shardID == goodShard {
				return &scriptedProcessor{process: func(context.Context, ProcessRecordsInput) error {
					select {
					case <-goodStarted:
					default:
						close(goodStarted)
					}
					return nil
				}}
			}
			return &scriptedProcessor{process: func(context.Context, ProcessRecordsInput) error {
				close(stuck)
				<-unblock // ignores its ctx
				return nil
			}}
		}
		var logs syncBuffer
		store := checkpoint.NewMemory()
		const timeout = 10 * time.Second
		c, err := New(fake, stream, store, newProc, fastOptions(t, "w1", func(o *Options) {
			o.ShutdownTimeout = timeout
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
		})...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		<-stuck
		<-goodStarted
		cancel()
		start := time.Now()

		time.Sleep(timeout - time.Millisecond)
		synctest.Wait()
		if strings.Contains(logs.String(), "overdue") {
			t.Errorf("overdue logged before ShutdownTimeout:\n%s", logs.String())
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		var overdue string
		for line := range strings.Lines(logs.String()) {
			if strings.Contains(line, "overdue") {
				overdue = line
			}
		}
		if !strings.Contains(overdue, "level=ERROR") || !strings.Contains(overdue, stuckShard) || !strings.Contains(overdue, "ProcessRecords") || strings.Contains(overdue, goodShard) {
			t.Errorf("at ShutdownTimeout, want an ERROR naming %s (in ProcessRecords) and not %s; got %q", stuckShard, goodShard, overdue)
		}

		var runErr error
		select {
		case runErr = <-done:
			t.Fatalf("Run returned %v after %v, before twice ShutdownTimeout", runErr, time.Since(start))
		case <-time.After(2*timeout - time.Since(start) - time.Millisecond):
		}
		select {
		case runErr = <-done:
		case <-time.After(time.Second):
			t.Fatalf("Run had not returned %v after its ctx ended (2 × ShutdownTimeout + 1s)", time.Since(start))
		}
		var ste *ShutdownTimeoutError
		if !errors.Is(runErr, ErrShutdownTimeout) || !errors.As(runErr, &ste) || len(ste.Shards) != 1 || ste.Shards[0] != stuckShard || !strings.Contains(runErr.Error(), stuckShard) {
			t.Errorf("Run: %v, want a *ShutdownTimeoutError naming only %s", runErr, stuckShard)
		}
		leases, err := store.ListLeases(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range leases {
			if l.Owner != "" {
				t.Errorf("lease %s still owned by %q after Run returned; want every lease released", l.Key, l.Owner)
			}
		}
	})
}
