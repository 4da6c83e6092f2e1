package awserr_test

import (
	"fmt"
	"time"

	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// A caller retries what Classify calls retryable, waiting Backoff between attempts.
func Example() {
	err := &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}
	c := awserr.Classify(err)
	fmt.Println(c.Retryable, c.Throttled, c.Ambiguous)
	d := awserr.Backoff(3, 100*time.Millisecond, time.Second)
	fmt.Println(d >= 200*time.Millisecond && d <= 400*time.Millisecond)
	// Output:
	// true true false
	// true
}
