package kinesisuser

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the servers, producers and consumers started is gone when
// the tests end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
