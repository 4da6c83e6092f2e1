package consumer

import (
	"context"
	"time"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// retryBaseDelay is the first backoff delay of the worker's and the shards' retries.
const retryBaseDelay = 100 * time.Millisecond

// retrier is the one retry loop of the consumer: the worker's first shard sync, the
// processor calls, a shard's end (its SHARD_END checkpoint, the other parent's lease,
// the shard sync), the registration of a fan-out consumer. It calls an operation until
// it succeeds, waiting awserr.Backoff between attempts, and stops early when the context
// ends, when the error is permanent or after maxAttempts.
type retrier struct {
	// base and max bound the backoff: attempt n waits awserr.Backoff(n, base, max).
	base, max time.Duration
	// maxAttempts ends the retries after this many attempts; 0 means until ctx ends.
	maxAttempts int
	// permanent reports errors no retry can fix; do returns them at once. nil: none.
	permanent func(error) bool
	// onRetry is called after each failed attempt that will be tried again, with the
	// delay before the next one: where the caller logs and counts. nil: nothing.
	onRetry func(attempt int, delay time.Duration, err error)
}

// retrier returns the worker's retrier (backoff from retryBaseDelay up to
// Options.MaxRetryBackoff) that reports each retry to onRetry.
func (w *worker) retrier(onRetry func(attempt int, delay time.Duration, err error)) retrier {
	return retrier{base: retryBaseDelay, max: w.opts.MaxRetryBackoff, onRetry: onRetry}
}

// do calls op with attempt 1, 2, ... until it returns nil, and returns nil. It returns
// ctx's error when ctx ended (after a failed attempt or during a wait), and op's error
// when it is permanent or was the last of maxAttempts.
func (r retrier) do(ctx context.Context, op func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := op(attempt)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if r.permanent != nil && r.permanent(err) || r.maxAttempts > 0 && attempt >= r.maxAttempts {
			return err
		}
		delay := awserr.Backoff(attempt, r.base, r.max)
		if r.onRetry != nil {
			r.onRetry(attempt, delay, err)
		}
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
	}
}
