package checkpointtest_test

import (
	"testing"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/checkpointtest"
)

// A store's test runs the whole contract; newStore gives every subtest an
// empty store.
func ExampleRunStoreContract() {
	// In your module: func TestMyStoreContract(t *testing.T) { ... }
	testMyStoreContract := func(t *testing.T) {
		checkpointtest.RunStoreContract(t, func(t *testing.T) checkpoint.Store {
			return checkpoint.NewMemory() // your store, on a fresh table
		})
	}
	_ = testMyStoreContract
}

func TestMemoryPassesTheContract(t *testing.T) {
	checkpointtest.RunStoreContract(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemory() })
}
