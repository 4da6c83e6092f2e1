package producer

import (
	"context"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShardMapLoadFailures(t *testing.T) {
	t.Run("not found fails the waiting records at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeKinesis("other", 1)
			p := newTestProducer(t, &renamed{f, "missing"}, quiet)
			start := time.Now()
			_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "ResourceNotFoundException", apiErr.ErrorCode())
			assert.ErrorIs(t, err, ErrStreamNotFound)
			assertFromArrival(t, 0, time.Since(start), "failed with the listing that found no stream")
		})
	})
	// A record put after the listing failed for good fails at once too, not with the
	// next listing after the load backoff (it did, 50 to 100 ms later).
	t.Run("not found fails the records put after it at once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeKinesis("other", 1)
			p := newTestProducer(t, &renamed{f, "missing"}, quiet)
			synctest.Wait() // the first listing failed; the mapper waits to list again
			start := time.Now()
			_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
			assert.ErrorIs(t, err, ErrStreamNotFound)
			assertFromArrival(t, 0, time.Since(start), "failed with the last listing's error")
			assert.EqualValues(t, 1, p.Stats().UserRecordsReceived)
			assert.EqualValues(t, 1, p.Stats().UserRecordsFailed)
		})
	})
	t.Run("a retryable failure expires the records at their TTL with its cause", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeKinesis("s", 1)
			f.listErr = apiError("LimitExceededException", "slow down", smithy.FaultClient)
			p := newTestProducer(t, f, quiet, func(o *Options) { o.RecordTTL = 300 * time.Millisecond })
			start := time.Now()
			_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
			require.ErrorIs(t, err, ErrRecordExpired)
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "LimitExceededException", apiErr.ErrorCode())
			assertFromArrival(t, 300*time.Millisecond, time.Since(start), "expired at its TTL")
		})
	})
}

// renamed is a client for a stream name the fake does not have.
type renamed struct {
	*fakeKinesis
	name string
}

func (r *renamed) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	cp := *in
	if cp.StreamName != nil {
		cp.StreamName = aws.String(r.name)
	}
	return r.fakeKinesis.ListShards(ctx, &cp, o...)
}

func TestShardMapIsPaged(t *testing.T) {
	f := newFakeKinesis("s", 5)
	f.pageSize = 2
	p := newTestProducer(t, f)
	out := putAll(t, p, 500)
	for _, o := range out {
		require.NoError(t, o.err)
	}
	assert.Len(t, p.Stats().Shards, 5)
	checkWritten(t, f, 500, nil)
}

// TestMaxRecordSizeComesFromTheStream runs in a testing/synctest bubble: PutSync waits for the linger in fake time.
func TestMaxRecordSizeComesFromTheStream(t *testing.T) {
	synctest.Test(t, testMaxRecordSizeComesFromTheStream)
}

func testMaxRecordSizeComesFromTheStream(t *testing.T) {
	f := newFakeKinesisWith("s", 1, 2048)
	p := newTestProducer(t, f)
	_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: make([]byte, 1<<20+100)})
	require.NoError(t, err, "a 2 MiB stream takes a record above 1 MiB")
	err = p.Put(context.Background(), Record{PartitionKey: "k", Data: make([]byte, 2<<20)}, nil)
	require.ErrorIs(t, err, ErrInvalidRecord)
}

// timedLists notes when each ListShards call starts.
type timedLists struct {
	*fakeKinesis
	start time.Time
	mu    sync.Mutex
	at    []time.Duration
}

func (l *timedLists) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	l.mu.Lock()
	l.at = append(l.at, time.Since(l.start))
	l.mu.Unlock()
	return l.fakeKinesis.ListShards(ctx, in, o...)
}

func (l *timedLists) times() []time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at)
}

// The shard map is listed at New, then every ShardMapRefreshInterval, so that a
// reshard shows in the map without a record landing on an unknown shard.
func TestShardMapRefreshesPeriodically(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		lists := &timedLists{fakeKinesis: f, start: time.Now()}
		p := newTestProducer(t, lists, func(o *Options) { o.ShardMapRefreshInterval = time.Second })
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		assert.Len(t, p.Stats().Shards, 1)
		f.split(f.openShardIDs()[0])
		time.Sleep(500 * time.Millisecond)
		synctest.Wait()
		assert.Len(t, p.Stats().Shards, 2, "the listing at 2 s has the split's children")
		time.Sleep(1500 * time.Millisecond)
		assert.Equal(t, []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second}, lists.times())
		assert.EqualValues(t, 4, p.Stats().ShardMapRefreshes)
	})
}
