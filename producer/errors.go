package producer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
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
// names what to grant. It wraps ErrAccessDenied and the AWS error.
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
	return fmt.Sprintf("producer: access denied: grant %s on %s to the producer's IAM identity: %v", e.Action, e.Resource, e.Err)
}

// Unwrap returns ErrAccessDenied and the AWS error.
func (e *AccessDeniedError) Unwrap() []error { return []error{ErrAccessDenied, e.Err} }

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

// Error codes the producer acts on.
const (
	codeThroughputExceeded = "ProvisionedThroughputExceededException"
	codeAccessDenied       = "AccessDeniedException"
	codeKMSAccessDenied    = "KMSAccessDeniedException"
	codeKMSThrottling      = "KMSThrottlingException"
)

// retryableCodes are AWS error codes worth retrying: throttling and service faults.
var retryableCodes = map[string]bool{
	codeThroughputExceeded:        true,
	"ThrottlingException":         true,
	"Throttling":                  true,
	"LimitExceededException":      true,
	"TooManyRequestsException":    true,
	"RequestLimitExceeded":        true,
	codeKMSThrottling:             true,
	"InternalFailure":             true,
	"InternalFailureException":    true,
	"InternalServerError":         true,
	"ServiceUnavailable":          true,
	"ServiceUnavailableException": true,
	"RequestTimeout":              true,
	"RequestTimeoutException":     true,
	"ResourceInUseException":      true, // stream still being created or updated
}

// throttleCodes are the retryable codes that mean "slow down".
var throttleCodes = map[string]bool{
	codeThroughputExceeded:     true,
	"ThrottlingException":      true,
	"Throttling":               true,
	"LimitExceededException":   true,
	"TooManyRequestsException": true,
	"RequestLimitExceeded":     true,
	codeKMSThrottling:          true,
}

// fatalCodes are AWS error codes that retrying cannot fix.
var fatalCodes = map[string]bool{
	"ValidationException":            true,
	"InvalidArgumentException":       true,
	"ResourceNotFoundException":      true,
	codeAccessDenied:                 true,
	codeKMSAccessDenied:              true,
	"KMSDisabledException":           true,
	"KMSNotFoundException":           true,
	"KMSInvalidStateException":       true,
	"KMSOptInRequired":               true,
	"UnrecognizedClientException":    true,
	"InvalidSignatureException":      true,
	"IncompleteSignature":            true,
	"MissingAuthenticationToken":     true,
	"ExpiredTokenException":          true,
	"InvalidClientTokenId":           true,
	"SerializationException":         true,
	"UnknownOperationException":      true,
	"InvalidParameterValueException": true,
}

// IsRetryable reports whether err, from a Kinesis call or a PutRecords entry (see
// EntryError), is worth retrying: throttling, service faults (InternalFailure, HTTP
// 5xx), timeouts and connection errors. Validation, missing stream, access and KMS key
// errors are not, nor are the producer's own errors (ErrClosed, ErrInvalidRecord,
// ErrRecordExpired) and a cancelled context.
func IsRetryable(err error) bool { return classify(err).retryable }

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
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		c := class{code: code, message: apiErr.ErrorMessage()}
		switch {
		case retryableCodes[code]:
			c.retryable = true
			c.throttled = throttleCodes[code]
		case fatalCodes[code]:
		case apiErr.ErrorFault() == smithy.FaultServer:
			c.retryable = true
		case apiErr.ErrorFault() == smithy.FaultClient:
		default:
			status := httpStatus(err)
			c.retryable = status == 0 || status >= 500 || status == 429
			c.throttled = status == 429
		}
		// A service fault answered the whole call: the service may have written some
		// records before failing.
		var entryErr *EntryError
		c.ambiguous = c.retryable && !c.throttled && !errors.As(err, &entryErr)
		return c
	}
	switch {
	case errors.Is(err, context.Canceled):
		return class{code: "Canceled", message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return class{retryable: true, ambiguous: true, code: "Timeout", message: err.Error()}
	}
	if status := httpStatus(err); status != 0 {
		return class{retryable: status >= 500 || status == 429, throttled: status == 429,
			ambiguous: status >= 500, code: fmt.Sprintf("HTTP%d", status), message: err.Error()}
	}
	if (retry.RetryableConnectionError{}).IsErrorRetryable(err) == aws.TrueTernary {
		var opErr *net.OpError
		dial := errors.As(err, &opErr) && strings.EqualFold(opErr.Op, "dial")
		return class{retryable: true, ambiguous: !dial, code: "ConnectionError", message: err.Error()}
	}
	// Unknown (a response that could not be read, say): retry until the TTL rather
	// than lose the records, but it may have been written.
	return class{retryable: true, ambiguous: true, code: "Unknown", message: err.Error()}
}

func httpStatus(err error) int {
	var v interface{ HTTPStatusCode() int }
	if errors.As(err, &v) {
		return v.HTTPStatusCode()
	}
	return 0
}

// describeFailure turns a non-retryable AWS error into what the user reads: access
// errors name the IAM action to grant.
func describeFailure(err error, action, resource string) error {
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return err
	}
	switch apiErr.ErrorCode() {
	case codeAccessDenied:
		return &AccessDeniedError{Action: action, Resource: resource, Err: err}
	case codeKMSAccessDenied:
		return &AccessDeniedError{Action: "kms:GenerateDataKey", Resource: "the KMS key of " + resource, Err: err}
	}
	return err
}
