package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

const baseRetryBackoff = 100 * time.Millisecond

// retry calls fn, each attempt bounded by WriteTimeout, until it succeeds, ctx ends or
// the lease is lost; between attempts it backs off exponentially (jittered) up to
// MaxRetryBackoff.
func (p *processor) retry(ctx context.Context, what string, fn func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, p.s.cfg.WriteTimeout)
		err := fn(actx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, consumer.ErrLeaseLost) {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sink: %s of shard %s stopped: %w (last error: %w)", what, p.shardID, context.Cause(ctx), err)
		}
		add(p.s.m.retries, 1, p.attrs)
		d := awserr.Backoff(attempt, baseRetryBackoff, p.s.cfg.MaxRetryBackoff)
		level := slog.LevelWarn
		if errors.Is(err, ErrAccessDenied) {
			level = slog.LevelError // retrying cannot fix it: a person must grant the permission
		}
		p.log.Log(ctx, level, "sink: "+what+" failed; the shard waits and tries again", "attempt", attempt, "delay", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sink: %s of shard %s stopped: %w (last error: %w)", what, p.shardID, context.Cause(ctx), err)
		case <-t.C:
		}
	}
}
