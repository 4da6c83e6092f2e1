package checkpoint

import (
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

// TestMain runs the emulators for the DynamoDB tests and checks for leaked goroutines.
func TestMain(m *testing.M) { testbed.Main(m) }
