package consumer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// testLogger returns a logger for consumers in tests: warnings and errors go to the test
// log (set CONSUMER_TEST_LOG=debug|info for more).
func testLogger(t testing.TB, name string) *slog.Logger {
	level := slog.LevelWarn
	switch os.Getenv("CONSUMER_TEST_LOG") {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(&testWriter{t: t, prefix: name + ": "}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct {
	t      testing.TB
	prefix string
	mu     sync.Mutex
	done   bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(w.prefix + strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// runConsumer runs c until the returned stop is called (or the test ends) and checks Run
// returned nil.
func runConsumer(t testing.TB, c *Consumer) (stop func()) {
	t.Helper()
	return runUntilStopped(t, c.Run)
}

// runUntilStopped is runConsumer for a given run function (c.Run, or c.run with a
// delivered window).
func runUntilStopped(t testing.TB, run func(context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run returned %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("Run did not return within 30s of cancel")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// testOptions are fast settings for tests.
func testOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return append([]func(*Options){func(o *Options) {
		o.WorkerID = worker
		// Tests that assert even lease counts; throughput balancing, the default, has
		// its own tests (balance_throughput_test.go, handoff_test.go), which set it.
		o.Balancing = BalanceByLeaseCount
		o.InitialPosition = InitialPositionTrimHorizon
		o.FailoverTime = 3 * time.Second
		o.IdleTimeBetweenReads = 100 * time.Millisecond
		o.ParentShardPollInterval = 200 * time.Millisecond
		o.MaxRetryBackoff = 500 * time.Millisecond
		o.Logger = testLogger(t, worker)
	}}, extra...)
}

// putter is *kinesis.Client or *kinesistest.Kinesis.
type putter interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
}

// putRecords puts n records spread over keys partition keys and returns their data
// ("<pk>/<index within pk>"), in put order per key.
func putRecords(t testing.TB, client putter, stream string, keys, n int, prefix string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out []string
	counters := make([]int, keys)
	for start := 0; start < n; start += 500 {
		var entries []types.PutRecordsRequestEntry
		var datas []string
		for i := start; i < min(n, start+500); i++ {
			k := i % keys
			pk := fmt.Sprintf("%s-k%03d", prefix, k)
			d := fmt.Sprintf("%s/%d", pk, counters[k])
			counters[k]++
			entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: []byte(d)})
			datas = append(datas, d)
		}
		for len(entries) > 0 {
			resp, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
			if err != nil {
				t.Fatalf("PutRecords: %v", err)
			}
			var retry []types.PutRecordsRequestEntry
			for i, r := range resp.Records {
				if r.ErrorCode != nil {
					retry = append(retry, entries[i])
				} else {
					out = append(out, datas[i])
				}
			}
			if len(retry) > 0 {
				// Keep order per key simple: the emulator never fails entries, but be safe.
				t.Fatalf("PutRecords failed %d entries", len(retry))
			}
			entries = nil
		}
	}
	return out
}

// leaseCounts returns the number of unfinished leases per owner.
func leaseCounts(t testing.TB, store checkpoint.Store) map[string]int {
	t.Helper()
	ls, err := store.ListLeases(context.Background())
	if err != nil {
		t.Fatalf("ListLeases: %v", err)
	}
	m := map[string]int{}
	for _, l := range ls {
		if !l.Checkpoint.IsShardEnd() {
			m[l.Owner]++
		}
	}
	return m
}

// newStore returns the lease store integration tests use: DynamoDB on dynalite.
func newStore(t testing.TB, env *testbed.Env) *checkpoint.DynamoDB {
	t.Helper()
	s, err := checkpoint.NewDynamoDB(env.DynamoDB(func(o *dynamodb.Options) { o.HTTPClient = noAbortClient{o.HTTPClient} }), testbed.UniqueName("lease"), func(o *checkpoint.DynamoDBOptions) {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = env.DynamoDB().DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(s.TableName())})
	})
	return s
}

// noAbortClient lets every DynamoDB request run to its end even when its context is
// cancelled: dynalite crashes (an uncaught ECONNRESET) when a client aborts a request
// before the response, which a consumer shutting down does.
type noAbortClient struct{ next dynamodb.HTTPClient }

func (c noAbortClient) Do(req *http.Request) (*http.Response, error) {
	return c.next.Do(req.WithContext(context.WithoutCancel(req.Context())))
}

// emulators returns the local Kinesis and DynamoDB emulators; integration tests are
// skipped with -short.
func emulators(t testing.TB) *testbed.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test against the local emulators; skipped with -short")
	}
	return testbed.Get(t)
}

// newFakeStream returns an in-memory Kinesis with one stream of the given shard count.
func newFakeStream(t testing.TB, shards int32) (*kinesistest.Kinesis, string) {
	t.Helper()
	fake := kinesistest.NewServer(t).Kinesis()
	if _, err := fake.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	return fake, "s"
}

// fastOptions are settings for unit tests against the fake and the Memory store.
func fastOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return testOptions(t, worker, append([]func(*Options){func(o *Options) {
		o.FailoverTime = time.Second
		o.IdleTimeBetweenReads = 20 * time.Millisecond
		o.ParentShardPollInterval = 50 * time.Millisecond
		o.MaxRetryBackoff = 50 * time.Millisecond
	}}, extra...)...)
}

// waitUntil polls cond until it holds, failing after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
