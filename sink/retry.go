package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
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
		d := retryDelay(attempt, baseRetryBackoff, p.s.cfg.MaxRetryBackoff)
		p.log.Warn("sink: "+what+" failed; the shard waits and tries again", "attempt", attempt, "delay", d, "error", err)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("sink: %s of shard %s stopped: %w (last error: %w)", what, p.shardID, context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// retryDelay is the delay before retry n (1-based): base doubled per retry up to
// ceiling, with half of it jittered so that shards retrying together spread out.
func retryDelay(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}
