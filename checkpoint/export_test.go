package checkpoint

// NewTestTable lets the external tests (store_contract_test.go) use newTestTable.
var NewTestTable = newTestTable
