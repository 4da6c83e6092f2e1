package main

import (
	"os"
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

// agentEnv makes the test binary run the command instead of the tests: the
// rotation test starts the agent as a real process (to kill it with SIGKILL).
const agentEnv = "KINESIS_AGENT_TEST_RUN_AGENT"

// TestMain runs the agent when asked to, else the tests (with the emulators,
// stopped afterwards, and a goroutine leak check).
func TestMain(m *testing.M) {
	if os.Getenv(agentEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stderr))
	}
	testbed.Main(m)
}
