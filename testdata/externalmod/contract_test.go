package kinesisuser

import (
	"testing"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/checkpointtest"
)

// A user's own lease store runs the same contract; here the module's
// in-memory store stands in for it.
func TestOwnStoreContract(t *testing.T) {
	checkpointtest.RunStoreContract(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemory() })
}
