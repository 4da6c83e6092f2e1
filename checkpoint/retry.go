package checkpoint

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// noSDKRetry is added to every call the store makes: the store retries itself, so the
// SDK's retryer must not multiply the attempts (the DynamoDB twin of
// awserr.NoKinesisRetry).
func noSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

// call runs fn up to MaxAttempts times, retrying what awserr.Classify calls retryable
// (throttling, server and connection errors) with awserr.Backoff and honouring ctx.
// ambiguous reports whether an earlier attempt failed in a way that may have applied a
// write. Errors come back
// classified: *AccessDeniedError, ErrTableNotFound, the raw ConditionalCheckFailedException
// (callers turn it into a ConflictError), else the AWS error wrapped with the action.
func call[T any](ctx context.Context, d *DynamoDB, action string, fn func(context.Context, ...func(*dynamodb.Options)) (T, error)) (out T, ambiguous bool, err error) {
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err != nil {
				return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w (last error: %w)", action, d.table, cerr, err)
			}
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w", action, d.table, cerr)
		}
		out, err = fn(ctx, noSDKRetry)
		if err == nil {
			return out, ambiguous, nil
		}
		switch awserr.Code(err) {
		case awserr.CodeAccessDenied:
			return out, ambiguous, &AccessDeniedError{Action: action, Resource: d.table, Region: d.region, Err: err}
		case conditionalCheckFailed:
			return out, ambiguous, err
		case awserr.CodeResourceNotFound:
			return out, ambiguous, fmt.Errorf("%w: %s on lease table %q: create it (see the package documentation for the schema) or call EnsureTable: %w",
				ErrTableNotFound, action, d.table, err)
		}
		class := awserr.Classify(err)
		if cerr := ctx.Err(); cerr != nil {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w (last error: %w)", action, d.table, cerr, err)
		}
		if !class.Retryable {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w", action, d.table, err)
		}
		if attempt >= d.opts.MaxAttempts {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q failed %d times, giving up: %w", action, d.table, attempt, err)
		}
		if class.Ambiguous {
			ambiguous = true
		}
		delay := awserr.Backoff(attempt, d.opts.RetryBaseDelay, d.opts.RetryMaxDelay)
		d.opts.Logger.Warn("checkpoint: DynamoDB call failed, retrying",
			"action", action, "table", d.table, "attempt", attempt, "maxAttempts", d.opts.MaxAttempts,
			"delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
	}
}
