package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
)

// noSDKRetry is added to every call the store makes: the store retries itself, so the
// SDK's retryer must not multiply the attempts.
func noSDKRetry(o *dynamodb.Options) { o.Retryer = aws.NopRetryer{} }

// Error codes the store acts on.
const (
	codeAccessDenied     = "AccessDeniedException"
	codeResourceNotFound = "ResourceNotFoundException"
	codeResourceInUse    = "ResourceInUseException"
)

// throttleCodes are rejections that certainly did not apply the write.
var throttleCodes = map[string]bool{
	"ProvisionedThroughputExceededException": true,
	"ThrottlingException":                    true,
	"RequestLimitExceeded":                   true,
	"LimitExceededException":                 true,
}

// serverCodes are server-side failures; a write that got one may or may not have landed.
var serverCodes = map[string]bool{
	"InternalServerError":         true,
	"InternalFailure":             true,
	"ServiceUnavailable":          true,
	"ServiceUnavailableException": true,
}

var sdkRetryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// errorKind classifies an error of one attempt.
type errorKind int

const (
	kindFatal     errorKind = iota // not retried
	kindThrottled                  // retried; the request was certainly not applied
	kindAmbiguous                  // retried; the request may have been applied
)

func classify(err error) errorKind {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case throttleCodes[code]:
			return kindThrottled
		case serverCodes[code]:
			return kindAmbiguous
		case code == codeAccessDenied, code == conditionalCheckFailed, code == codeResourceNotFound,
			code == "ValidationException", code == codeResourceInUse:
			return kindFatal
		}
	}
	// Connection errors, HTTP 5xx without a modeled code, timeouts, retryable codes the
	// SDK knows: the request may or may not have reached DynamoDB.
	if sdkRetryables.IsErrorRetryable(err) == aws.TrueTernary {
		return kindAmbiguous
	}
	return kindFatal
}

// backoff returns the delay before retry number n (1 for the first retry): full jitter
// over min(cap, base*2^(n-1)).
func (d *DynamoDB) backoff(n int) time.Duration {
	ceiling := d.opts.RetryBaseDelay
	for i := 1; i < n && ceiling < d.opts.RetryMaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, d.opts.RetryMaxDelay)
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling) + 1
}

// call runs fn up to MaxAttempts times, retrying throttling, server and connection errors
// with jittered exponential backoff and honouring ctx. ambiguous reports whether an
// earlier attempt failed in a way that may have applied a write. Errors come back
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
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			switch apiErr.ErrorCode() {
			case codeAccessDenied:
				return out, ambiguous, &AccessDeniedError{Action: action, Resource: d.table, Region: d.region, Err: err}
			case conditionalCheckFailed:
				return out, ambiguous, err
			case codeResourceNotFound:
				return out, ambiguous, fmt.Errorf("%w: %s on lease table %q: create it (see the package documentation for the schema) or call EnsureTable: %w",
					ErrTableNotFound, action, d.table, err)
			}
		}
		kind := classify(err)
		if cerr := ctx.Err(); cerr != nil {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w (last error: %w)", action, d.table, cerr, err)
		}
		if kind == kindFatal {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q: %w", action, d.table, err)
		}
		if attempt >= d.opts.MaxAttempts {
			return out, ambiguous, fmt.Errorf("checkpoint: %s on lease table %q failed %d times, giving up: %w", action, d.table, attempt, err)
		}
		if kind == kindAmbiguous {
			ambiguous = true
		}
		delay := d.backoff(attempt)
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
