// Package checkpointtest is the contract suite of checkpoint.Store: the
// semantics the consumer relies on, as subtests. Run it against your own
// lease store (Postgres, Redis, ...) to know it can replace checkpoint.NewMemory
// or checkpoint.NewDynamoDB:
//
//	func TestPostgresStoreContract(t *testing.T) {
//		checkpointtest.RunStoreContract(t, func(t *testing.T) checkpoint.Store {
//			return newStoreOnAFreshTable(t)
//		})
//	}
//
// This module runs it against both of its stores.
package checkpointtest
