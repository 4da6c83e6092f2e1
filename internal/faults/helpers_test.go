package faults_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

// fakeClock is a manual clock for ShardLimits.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newInjector returns an injector whose connections are closed when the test ends.
func newInjector(t *testing.T, optFns ...func(*faults.Options)) *faults.Injector {
	t.Helper()
	inj := faults.New(nil, optFns...)
	t.Cleanup(inj.CloseIdleConnections)
	return inj
}

// noRetry makes the SDK try each call once, so each injected fault is seen as is.
func noRetry(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// entries builds n PutRecords entries with partition keys prefix-0..n-1.
func entries(n int, prefix string, size int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for k := range out {
		data := make([]byte, size)
		copy(data, fmt.Sprintf("%s-%d", prefix, k))
		out[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprintf("%s-%d", prefix, k)), Data: data}
	}
	return out
}

// readAll reads every record of shard from TRIM_HORIZON until a GetRecords returns none.
func readAll(t *testing.T, c *kinesis.Client, stream, shard string) []types.Record {
	t.Helper()
	ctx := ctxT(t)
	it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatalf("GetShardIterator: %v", err)
	}
	var recs []types.Record
	iter := it.ShardIterator
	for iter != nil {
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
		if err != nil {
			t.Fatalf("GetRecords: %v", err)
		}
		recs = append(recs, out.Records...)
		if len(out.Records) == 0 {
			break
		}
		iter = out.NextShardIterator
	}
	return recs
}
