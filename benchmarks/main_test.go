package benchmarks

import (
	"os"
	"testing"
)

// TestMain doubles as the fake Kinesis server process: when fakeServerEnv is
// set, the test binary serves the HTTP fake instead of running tests (see
// fakeserver_test.go). Otherwise it runs the tests and benchmarks, then stops
// every helper process they started.
func TestMain(m *testing.M) {
	if mode := os.Getenv(fakeServerEnv); mode != "" {
		os.Exit(serveFake(mode))
	}
	code := m.Run()
	stopSharedFakes()
	stopEmulators()
	os.Exit(code)
}
