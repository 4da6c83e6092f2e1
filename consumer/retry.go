package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// retryBaseDelay is the first backoff delay of the worker's and the shards' retries.
const retryBaseDelay = 100 * time.Millisecond

// retrier is the one retry loop of the consumer: the worker's first shard sync, the
// processor calls, a shard's end (its SHARD_END checkpoint, the other parent's lease,
// the shard sync), the registration of a fan-out consumer, the readers (GetRecords,
// SubscribeToShard: one do per batch read, so a success starts the count again) and the
// record handler of NewRecordFunc. It calls an operation until it succeeds, waiting
// awserr.Backoff between attempts, and stops early when the context ends, when the error
// is permanent or after maxAttempts. State an operation needs between attempts (a new
// shard iterator after a failed read) lives in the operation's closure.
type retrier struct {
	// base and max bound the backoff: attempt n waits awserr.Backoff(n, base, max).
	base, max time.Duration
	// delay, when set, replaces that backoff: the wait after failed attempt n with err
	// (a reader gets a new iterator at once after an expired one, and waits longer after
	// a failed SubscribeToShard call than after a failed subscription).
	delay func(attempt int, err error) time.Duration
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
//
// An error wrapped in afterProgress counts as the first failure of a new series: the
// operation made progress before it failed (a subscription delivered events, then
// broke), so the backoff starts again from its base.
func (r retrier) do(ctx context.Context, op func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := op(attempt)
		if err == nil {
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if _, ok := errors.AsType[afterProgress](err); ok {
			attempt = 1
		}
		if r.permanent != nil && r.permanent(err) || r.maxAttempts > 0 && attempt >= r.maxAttempts {
			return err
		}
		var delay time.Duration
		if r.delay != nil {
			delay = r.delay(attempt, err)
		} else {
			delay = awserr.Backoff(attempt, r.base, r.max)
		}
		if r.onRetry != nil {
			r.onRetry(attempt, delay, err)
		}
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
	}
}

// afterProgress wraps the failure of an operation that made progress first (see
// retrier.do).
type afterProgress struct{ error }

func (e afterProgress) Unwrap() error { return e.error }
