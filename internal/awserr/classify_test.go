package awserr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func apiErr(code string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: "m", Fault: fault}
}

func httpErr(status int, err error) error {
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: err}
}

func TestClassify(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want Class
	}{
		"Kinesis throughput":            {&types.ProvisionedThroughputExceededException{Message: new("m")}, Class{Retryable: true, Throttled: true, Code: CodeThroughputExceeded}},
		"TooManyRequestsException":      {apiErr("TooManyRequestsException", smithy.FaultClient), Class{Retryable: true, Throttled: true, Code: "TooManyRequestsException"}},
		"KMS throttling":                {apiErr(CodeKMSThrottling, smithy.FaultClient), Class{Retryable: true, Throttled: true, Code: CodeKMSThrottling}},
		"DynamoDB RequestLimit":         {apiErr("RequestLimitExceeded", smithy.FaultClient), Class{Retryable: true, Throttled: true, Code: "RequestLimitExceeded"}},
		"HTTP 429 with unknown code":    {httpErr(429, apiErr("Whatever", smithy.FaultUnknown)), Class{Retryable: true, Throttled: true, Code: "Whatever"}},
		"HTTP 429 without code":         {httpErr(429, errors.New("slow down")), Class{Retryable: true, Throttled: true, Code: "HTTP429"}},
		"InternalFailure":               {apiErr("InternalFailure", smithy.FaultServer), Class{Retryable: true, Ambiguous: true, Code: "InternalFailure"}},
		"new server fault":              {apiErr("SomethingNew", smithy.FaultServer), Class{Retryable: true, Ambiguous: true, Code: "SomethingNew"}},
		"new client fault":              {apiErr("SomethingNew", smithy.FaultClient), Class{Code: "SomethingNew"}},
		"HTTP 503 without code":         {httpErr(503, errors.New("unavailable")), Class{Retryable: true, Ambiguous: true, Code: "HTTP503"}},
		"HTTP 400 with unknown code":    {httpErr(400, apiErr("Odd", smithy.FaultUnknown)), Class{Code: "Odd"}},
		"validation":                    {apiErr("ValidationException", smithy.FaultClient), Class{Code: "ValidationException"}},
		"access denied":                 {apiErr(CodeAccessDenied, smithy.FaultClient), Class{Code: CodeAccessDenied}},
		"not found":                     {apiErr(CodeResourceNotFound, smithy.FaultClient), Class{Code: CodeResourceNotFound}},
		"resource in use (caller's)":    {apiErr(CodeResourceInUse, smithy.FaultClient), Class{Code: CodeResourceInUse}},
		"canceled":                      {fmt.Errorf("op: %w", context.Canceled), Class{Code: "Canceled"}},
		"deadline":                      {fmt.Errorf("op: %w", context.DeadlineExceeded), Class{Ambiguous: true, Code: "Timeout"}},
		"connection reset":              {&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, Class{Retryable: true, Ambiguous: true, Code: "ConnectionError"}},
		"dial refused (never sent)":     {&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, Class{Retryable: true, Code: "ConnectionError"}},
		"unknown (response unreadable)": {errors.New("unexpected EOF reading the body"), Class{Retryable: true, Ambiguous: true, Code: "Unknown"}},
	} {
		t.Run(name, func(t *testing.T) {
			got := Classify(tc.err)
			got.Message = ""
			if got != tc.want {
				t.Errorf("Classify(%v) = %+v, want %+v", tc.err, got, tc.want)
			}
		})
	}
	if got := Classify(nil); got != (Class{}) {
		t.Errorf("Classify(nil) = %+v", got)
	}
}

func TestShortcuts(t *testing.T) {
	throttled := httpErr(429, errors.New("x"))
	if !IsThrottle(throttled) || !IsRetryable(throttled) {
		t.Error("HTTP 429 is throttling and retryable")
	}
	if IsRetryable(context.DeadlineExceeded) || IsRetryable(context.Canceled) {
		t.Error("the context's errors are not retryable")
	}
	if !IsAccessDenied(apiErr(CodeKMSAccessDenied, smithy.FaultClient)) || !IsAccessDenied(fmt.Errorf("w: %w", apiErr(CodeAccessDenied, smithy.FaultClient))) {
		t.Error("IsAccessDenied misses a wrapped or KMS denial")
	}
	if !IsNotFound(&types.ResourceNotFoundException{Message: new("gone")}) || IsNotFound(errors.New("x")) {
		t.Error("IsNotFound")
	}
	if Code(errors.New("x")) != "" || Code(fmt.Errorf("w: %w", apiErr("C", smithy.FaultClient))) != "C" {
		t.Error("Code")
	}
}
