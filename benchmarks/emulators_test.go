package benchmarks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

// The DynamoDB emulator (dynalite, with kinesis-mock alongside: internal/testbed
// starts the pair) for the lease-table benchmarks, started on first use and
// stopped by TestMain. testbed.Main is not used because it also runs goleak
// over the binary, and vmware-go-kcl-v2 is not ours to hold to that.
var emulators struct {
	sync.Mutex
	started bool
	env     *testbed.Env
	err     error
}

func localAWS(tb testing.TB) *testbed.Env {
	tb.Helper()
	emulators.Lock()
	defer emulators.Unlock()
	if !emulators.started {
		emulators.started = true
		// The emulators' npm project is the parent module's (go test runs in
		// benchmarks/, whose own go.mod would hide it from testbed's lookup).
		opts := testbed.Options{}
		if os.Getenv("KINESIS_GO_LOCALAWS_DIR") == "" {
			opts.Dir, _ = filepath.Abs(filepath.Join("..", "testdata", "localaws"))
		}
		emulators.env, emulators.err = testbed.Start(context.Background(), opts)
	}
	if emulators.err != nil {
		if errors.Is(emulators.err, testbed.ErrNodeMissing) {
			tb.Skipf("skipping: %v", emulators.err)
		}
		tb.Fatalf("local DynamoDB unavailable: %v", emulators.err)
	}
	return emulators.env
}

func stopEmulators() {
	emulators.Lock()
	defer emulators.Unlock()
	if emulators.env != nil {
		if err := emulators.env.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		emulators.env = nil
	}
}
