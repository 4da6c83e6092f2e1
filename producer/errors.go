package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

var (
	// ErrClosed is returned by Put, PutSync and Flush after Close was called, and is
	// the result of records that Close abandoned because its context ended first.
	ErrClosed = errors.New("producer: closed")

	// ErrInvalidRecord is wrapped by the *InvalidRecordError that Put returns for a
	// record Kinesis would refuse; nothing was buffered. Fix the record.
	ErrInvalidRecord = errors.New("producer: invalid record")

	// ErrRecordExpired is wrapped by the *ExpiredError of a record that was not written
	// within Options.RecordTTL. The error also wraps the last failure's cause.
	ErrRecordExpired = errors.New("producer: record expired")

	// ErrAccessDenied is wrapped by the *AccessDeniedError of a record or shard map
	// load that Kinesis or KMS refused for lack of permission.
	ErrAccessDenied = errors.New("producer: access denied")

	// ErrStreamNotFound is wrapped, together with the AWS ResourceNotFoundException,
	// by the result of every record when Kinesis says the stream does not exist
	// (a mistyped name, another region or account, a deleted stream). Retrying
	// cannot help: check the stream name and the client's region and endpoint.
	ErrStreamNotFound = errors.New("producer: stream not found")

	// ErrRequestTimeout is wrapped by the error of a Kinesis call that did not answer
	// within Options.RequestTimeout (it also wraps context.DeadlineExceeded). For
	// PutRecords this is an ambiguous failure: the call may have written its records,
	// so the pipeline retries them and each Kinesis record of the call may be written
	// twice (with aggregation, every user record of the aggregate). IsRetryable
	// reports it retryable, unlike a context that the caller cancelled or let expire.
	ErrRequestTimeout = errors.New("producer: Kinesis did not answer within RequestTimeout")
)

// InvalidRecordError says which field of a Record is invalid and why. It wraps
// ErrInvalidRecord and, for a malformed ExplicitHashKey, aggregation.ErrInvalidHashKey.
type InvalidRecordError struct {
	// Field is "PartitionKey", "ExplicitHashKey" or "Data".
	Field string
	// Reason says what is wrong, in words.
	Reason string
	// Err is the underlying error, if any.
	Err error
}

func (e *InvalidRecordError) Error() string {
	return fmt.Sprintf("producer: invalid record: %s: %s", e.Field, e.Reason)
}

// Unwrap returns ErrInvalidRecord and the underlying error.
func (e *InvalidRecordError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrInvalidRecord}
	}
	return []error{ErrInvalidRecord, e.Err}
}

// ExpiredError is the result of a record that was not written within its RecordTTL.
// It wraps ErrRecordExpired and Cause.
type ExpiredError struct {
	// TTL is the RecordTTL that passed.
	TTL time.Duration
	// Attempts is how many PutRecords attempts carried the record.
	Attempts int
	// Cause is the last failure: the last attempt's error, or why the record could not
	// be sent (throttled by the rate limit, shard map not loaded).
	Cause error
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("producer: record expired: not written within RecordTTL %v after %d attempts (raise RecordTTL, lower the write rate or add shards): last error: %v",
		e.TTL, e.Attempts, e.Cause)
}

// Unwrap returns ErrRecordExpired and Cause.
func (e *ExpiredError) Unwrap() []error { return []error{ErrRecordExpired, e.Cause} }

// AccessDeniedError is a call that Kinesis or KMS refused for lack of permission; it
// names what to grant. It matches ErrAccessDenied (errors.Is) and unwraps to the AWS
// error. The consumer and the checkpoint store report denials with the same shape.
type AccessDeniedError struct {
	// Action is the IAM action that was denied, e.g. "kinesis:PutRecords" or
	// "kms:GenerateDataKey".
	Action string
	// Resource is the stream ARN, or the stream name when the ARN is not known.
	Resource string
	// Err is the AWS error.
	Err error
}

func (e *AccessDeniedError) Error() string {
	return awserr.AccessDenied{Package: "producer", Action: e.Action, Resource: e.Resource, Err: e.Err}.Message()
}

// Is reports ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Unwrap returns the AWS error.
func (e *AccessDeniedError) Unwrap() error { return e.Err }

// EntryError is the failure of one entry of a PutRecords response (the call itself
// succeeded). It implements smithy.APIError, so that errors.As(err, &apiErr) classifies
// entry and call failures alike.
type EntryError struct {
	// Code is the entry's ErrorCode, e.g. "ProvisionedThroughputExceededException",
	// "InternalFailure", "KMSAccessDeniedException".
	Code string
	// Message is the entry's ErrorMessage.
	Message string
}

func (e *EntryError) Error() string {
	return fmt.Sprintf("PutRecords entry failed: %s: %s", e.Code, e.Message)
}

// ErrorCode returns Code.
func (e *EntryError) ErrorCode() string { return e.Code }

// ErrorMessage returns Message.
func (e *EntryError) ErrorMessage() string { return e.Message }

// ErrorFault says whether the failure was the service's (InternalFailure) or the
// client's.
func (e *EntryError) ErrorFault() smithy.ErrorFault {
	switch e.Code {
	case "InternalFailure", "ServiceUnavailable":
		return smithy.FaultServer
	case "":
		return smithy.FaultUnknown
	}
	return smithy.FaultClient
}

// IsRetryable reports whether err, from a Kinesis call or a PutRecords entry (see
// EntryError), is worth retrying: throttling, service faults (InternalFailure, HTTP
// 5xx), a call that Kinesis did not answer within Options.RequestTimeout
// (ErrRequestTimeout) and connection errors. Validation, missing stream, access and
// KMS key errors are not, nor are the producer's own errors (ErrClosed,
// ErrInvalidRecord, ErrRecordExpired), nor the end of the caller's context
// (context.Canceled and context.DeadlineExceeded: the caller stopped waiting).
func IsRetryable(err error) bool {
	if errors.Is(err, ErrRequestTimeout) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return classify(err).retryable
}

// class is what the producer needs to know about a failure.
type class struct {
	retryable bool
	throttled bool // a retryable "slow down"
	ambiguous bool // the records may have been written anyway
	code      string
	message   string
}

func classify(err error) class {
	if err == nil {
		return class{}
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalidRecord) || errors.Is(err, ErrRecordExpired) ||
		errors.Is(err, ErrAccessDenied) {
		c := class{code: "Producer", message: err.Error()}
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			c.code, c.message = apiErr.ErrorCode(), apiErr.ErrorMessage()
		}
		return c
	}
	ac := awserr.Classify(err)
	c := class{retryable: ac.Retryable, throttled: ac.Throttled, ambiguous: ac.Ambiguous, code: ac.Code, message: ac.Message}
	switch {
	case ac.Code == awserr.CodeResourceInUse:
		// Kinesis: the stream is being created or updated; it will take writes again.
		c.retryable = true
	case ac.Code == "Timeout":
		// The producer's own per-call RequestTimeout (the caller's contexts are not
		// passed to calls): the records may have been written.
		c.retryable = true
	}
	// A failed PutRecords entry was not written; a service fault that answered the whole
	// call may have written some records before failing.
	var entryErr *EntryError
	if errors.As(err, &entryErr) {
		c.ambiguous = false
	}
	return c
}

// describeFailure turns a non-retryable AWS error into what the user reads: access
// errors name the IAM action to grant, a missing stream wraps ErrStreamNotFound.
func describeFailure(err error, action, resource string) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode() {
	case awserr.CodeResourceNotFound:
		return fmt.Errorf("%w: %s (check the stream name and the client's region and endpoint): %w", ErrStreamNotFound, resource, err)
	case awserr.CodeAccessDenied:
		return &AccessDeniedError{Action: action, Resource: resource, Err: err}
	case awserr.CodeKMSAccessDenied:
		return &AccessDeniedError{Action: "kms:GenerateDataKey", Resource: "the KMS key of " + resource, Err: err}
	}
	return err
}

// callTimeout returns err as the failure of a call made with a context bounded by
// RequestTimeout and derived from parent: a deadline that ended the call while parent
// is still live (RequestTimeout, or a timeout of the HTTP client below) wraps
// ErrRequestTimeout, which the pipeline retries; the end of parent stays what it is.
func callTimeout(parent context.Context, timeout time.Duration, err error) error {
	if err == nil || parent.Err() != nil || !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (%v): %w", ErrRequestTimeout, timeout, err)
}
