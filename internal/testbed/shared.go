package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"go.uber.org/goleak"
)

// shared is the one emulator pair of a test binary.
var shared struct {
	mu       sync.Mutex
	main     bool
	started  bool
	env      *Env
	err      error
	stopping bool
}

// Main runs the tests of a package that uses the emulators and stops them afterwards,
// also when a test fails or the binary is interrupted. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testbed.Main(m) }
func Main(m *testing.M) {
	ignore := goleak.IgnoreCurrent()
	shared.mu.Lock()
	shared.main = true
	shared.mu.Unlock()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-sigs; ok {
			stopShared()
			os.Exit(130)
		}
	}()
	code := m.Run()
	signal.Stop(sigs)
	close(sigs)
	if err := stopShared(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		if code == 0 {
			code = 1
		}
	}
	// Every goroutine a test started must be gone once the tests and the emulators are.
	if code == 0 {
		if err := goleak.Find(ignore); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: goroutines left after the tests: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

func stopShared() error {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopping = true
	if shared.env != nil {
		return shared.env.Close()
	}
	return nil
}

// Get returns the test binary's emulators, starting them on first use. When they cannot
// start the test fails with the reason; it is skipped instead only when Node.js is missing
// and CI is not "true".
func Get(t testing.TB) *Env {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.main {
		t.Fatal("testbed: call testbed.Main(m) from the package's TestMain so the emulators are stopped")
	}
	if shared.stopping {
		t.Fatal("testbed: the emulators are stopping")
	}
	if !shared.started {
		shared.started = true
		shared.env, shared.err = Start(context.Background(), Options{Logf: func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, f+"\n", a...)
		}})
	}
	if shared.err != nil {
		if errors.Is(shared.err, ErrNodeMissing) && os.Getenv("CI") != "true" {
			t.Skipf("skipping: %v", shared.err)
		}
		t.Fatalf("local AWS emulators unavailable: %v", shared.err)
	}
	return shared.env
}

// CreateStream creates a stream with a unique name and the given shard count, waits until
// it is ACTIVE and deletes it when the test ends. It returns the stream name.
func (e *Env) CreateStream(t testing.TB, shards int32) string {
	t.Helper()
	name := UniqueName("test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.CreateStreamNamed(ctx, name, shards); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = e.Kinesis().DeleteStream(ctx, &kinesis.DeleteStreamInput{
			StreamName: aws.String(name), EnforceConsumerDeletion: aws.Bool(true),
		})
	})
	return name
}

// CreateStreamNamed creates the named stream (or uses it if it exists) and waits until it
// is ACTIVE or ctx ends.
func (e *Env) CreateStreamNamed(ctx context.Context, name string, shards int32) error {
	client := e.Kinesis()
	_, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("testbed: creating stream %s: %w", name, err)
	}
	w := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
		o.MaxDelay = 500 * time.Millisecond
	})
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, 30*time.Second); err != nil {
		return fmt.Errorf("testbed: waiting for stream %s to be ACTIVE: %w", name, err)
	}
	return nil
}
