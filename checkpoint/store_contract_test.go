package checkpoint_test

import (
	"testing"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/checkpointtest"
)

func TestMemoryStoreContract(t *testing.T) {
	checkpointtest.RunStoreContract(t, func(*testing.T) checkpoint.Store { return checkpoint.NewMemory() })
}

func TestDynamoDBStoreContract(t *testing.T) {
	checkpointtest.RunStoreContract(t, func(t *testing.T) checkpoint.Store {
		// A page size of 2 makes every ListLeases of more than two leases read several pages.
		s, _ := checkpoint.NewTestTable(t, func(o *checkpoint.DynamoDBOptions) { o.ScanPageSize = 2 })
		return s
	})
}
