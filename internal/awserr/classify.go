package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// AWS error codes callers act on by name.
const (
	CodeAccessDenied       = "AccessDeniedException"
	CodeKMSAccessDenied    = "KMSAccessDeniedException"
	CodeResourceNotFound   = "ResourceNotFoundException"
	CodeResourceInUse      = "ResourceInUseException"
	CodeExpiredIterator    = "ExpiredIteratorException"
	CodeThroughputExceeded = "ProvisionedThroughputExceededException"
	CodeKMSThrottling      = "KMSThrottlingException"
)

// throttleCodes mean "slow down": the request was refused before it did anything.
// Kinesis, DynamoDB, KMS and the API gateway in front of them use different names; the
// list also holds the SDK's own throttling codes (aws/retry).
var throttleCodes = map[string]bool{
	CodeThroughputExceeded:           true,
	"ThrottlingException":            true,
	"Throttling":                     true,
	"ThrottledException":             true,
	"RequestThrottledException":      true,
	"RequestThrottled":               true,
	"LimitExceededException":         true,
	"TooManyRequestsException":       true,
	"RequestLimitExceeded":           true,
	"BandwidthLimitExceeded":         true,
	"TransactionInProgressException": true,
	"PriorRequestNotComplete":        true,
	"SlowDown":                       true,
	CodeKMSThrottling:                true,
}

// serverCodes are service faults and timeouts: worth retrying, but a write that got one
// may or may not have been applied.
var serverCodes = map[string]bool{
	"InternalFailure":             true,
	"InternalFailureException":    true,
	"InternalServerError":         true,
	"ServiceUnavailable":          true,
	"ServiceUnavailableException": true,
	"RequestTimeout":              true,
	"RequestTimeoutException":     true,
}

// fatalCodes are errors that retrying cannot fix. ResourceInUseException is here
// because what it means depends on the call (DynamoDB CreateTable: the table exists;
// Kinesis: the stream is being updated); callers that can wait for it decide so.
var fatalCodes = map[string]bool{
	"ValidationException":                      true,
	"InvalidArgumentException":                 true,
	CodeResourceNotFound:                       true,
	CodeResourceInUse:                          true,
	CodeAccessDenied:                           true,
	CodeKMSAccessDenied:                        true,
	"KMSDisabledException":                     true,
	"KMSNotFoundException":                     true,
	"KMSInvalidStateException":                 true,
	"KMSOptInRequired":                         true,
	"UnrecognizedClientException":              true,
	"InvalidSignatureException":                true,
	"IncompleteSignature":                      true,
	"MissingAuthenticationToken":               true,
	"ExpiredTokenException":                    true,
	"InvalidClientTokenId":                     true,
	"SerializationException":                   true,
	"UnknownOperationException":                true,
	"InvalidParameterValueException":           true,
	"ConditionalCheckFailedException":          true,
	"TransactionConflictException":             true,
	"ItemCollectionSizeLimitExceededException": true,
}

// Class is what a caller needs to know about a failed call.
type Class struct {
	// Retryable: another attempt may succeed.
	Retryable bool
	// Throttled: a retryable "slow down"; the request was certainly not applied.
	Throttled bool
	// Ambiguous: the request may have been applied although it failed (a service fault,
	// a timeout, a connection lost after the request was sent).
	Ambiguous bool
	// Code is the AWS error code, or a name for errors without one: "HTTP<status>",
	// "ConnectionError", "Canceled", "Timeout", "Unknown".
	Code string
	// Message is the AWS error message, or the error's text.
	Message string
}

// Classify sorts err, the error of one AWS call. The context's own errors are not
// retryable: the caller stopped waiting (a caller that set a per-call timeout and wants
// to try again after it decides that itself). Errors it does not recognise (a response
// that could not be read, say) are retryable and ambiguous: giving up on them loses
// work, and the caller's attempt or time limit bounds the retries.
func Classify(err error) Class {
	if err == nil {
		return Class{}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		c := Class{Code: code, Message: apiErr.ErrorMessage()}
		switch {
		case throttleCodes[code]:
			c.Retryable, c.Throttled = true, true
		case serverCodes[code]:
			c.Retryable, c.Ambiguous = true, true
		case fatalCodes[code]:
		case apiErr.ErrorFault() == smithy.FaultServer:
			c.Retryable, c.Ambiguous = true, true
		case apiErr.ErrorFault() == smithy.FaultClient:
		default:
			status := HTTPStatus(err)
			c.Throttled = status == 429
			c.Retryable = status == 0 || status >= 500 || c.Throttled
			c.Ambiguous = c.Retryable && !c.Throttled
		}
		return c
	}
	switch {
	case errors.Is(err, context.Canceled):
		return Class{Code: "Canceled", Message: err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return Class{Ambiguous: true, Code: "Timeout", Message: err.Error()}
	}
	if status := HTTPStatus(err); status != 0 {
		return Class{Retryable: status >= 500 || status == 429, Throttled: status == 429,
			Ambiguous: status >= 500, Code: fmt.Sprintf("HTTP%d", status), Message: err.Error()}
	}
	if (retry.RetryableConnectionError{}).IsErrorRetryable(err) == aws.TrueTernary {
		// A failed dial never sent the request.
		var opErr *net.OpError
		dial := errors.As(err, &opErr) && strings.EqualFold(opErr.Op, "dial")
		return Class{Retryable: true, Ambiguous: !dial, Code: "ConnectionError", Message: err.Error()}
	}
	return Class{Retryable: true, Ambiguous: true, Code: "Unknown", Message: err.Error()}
}

// Code returns the AWS error code of err, or "" when it carries none.
func Code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// HTTPStatus returns the HTTP status code of the response err came with, or 0.
func HTTPStatus(err error) int {
	var v interface{ HTTPStatusCode() int }
	if errors.As(err, &v) {
		return v.HTTPStatusCode()
	}
	return 0
}

// IsThrottle reports whether err asks the caller to slow down (any service's throttling
// code, or HTTP 429).
func IsThrottle(err error) bool { return Classify(err).Throttled }

// IsRetryable reports whether another attempt of the call may succeed (see Classify).
func IsRetryable(err error) bool { return Classify(err).Retryable }

// IsAccessDenied reports whether err is an AccessDeniedException or a
// KMSAccessDeniedException.
func IsAccessDenied(err error) bool {
	code := Code(err)
	return code == CodeAccessDenied || code == CodeKMSAccessDenied
}

// IsNotFound reports whether err is a ResourceNotFoundException (a missing stream,
// table, shard or stream consumer).
func IsNotFound(err error) bool { return Code(err) == CodeResourceNotFound }
