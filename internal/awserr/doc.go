// Package awserr is the one place where kinesis-go decides what an AWS error means and
// how long to wait before trying again. The producer, the consumer and the checkpoint
// store all use it, so a throttled call (an HTTP 429 or a TooManyRequestsException
// included) is throttling everywhere, and every access-denied error names the IAM
// action and resource to grant in the same words.
//
//   - Classify sorts an error into retryable, throttled ("slow down"; the request was
//     certainly not applied) and ambiguous (the request may have been applied);
//     IsThrottle, IsRetryable, IsAccessDenied and IsNotFound are its shortcuts.
//   - Backoff is the one jittered exponential backoff.
//   - NoKinesisRetry turns the SDK retryer off for a Kinesis call the caller retries
//     itself, so attempts do not multiply.
//   - AccessDenied is the one access-denied message; each public package wraps it in its
//     own AccessDeniedError type that matches its own ErrAccessDenied.
package awserr
