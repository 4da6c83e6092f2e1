package producer

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentAt is a PutRecords call as the fake saw it.
type sentAt struct {
	at      time.Time
	records int
}

// recordCalls makes f note each PutRecords call's time and size.
func recordCalls(f *fakeKinesis) func() []sentAt {
	var mu sync.Mutex
	var calls []sentAt
	f.putHook = func(_ int, in *kinesis.PutRecordsInput) ([]string, error) {
		mu.Lock()
		calls = append(calls, sentAt{time.Now(), len(in.Records)})
		mu.Unlock()
		return nil, nil
	}
	return func() []sentAt {
		mu.Lock()
		defer mu.Unlock()
		return calls
	}
}

// checkPaced checks that calls sent at most burst records at first, then one per
// every, and the last exactly when the limit let it go: never faster than the limit,
// and every record as soon as the limit allowed.
func checkPaced(t *testing.T, calls []sentAt, total, burst int, every time.Duration) {
	t.Helper()
	require.NotEmpty(t, calls)
	t0 := calls[0].at
	sent := 0
	for _, c := range calls {
		sent += c.records
		allowed := burst + int(c.at.Sub(t0)/every)
		require.LessOrEqual(t, sent, allowed, "%d records sent by %v", sent, c.at.Sub(t0))
	}
	assert.Equal(t, total, sent)
	assert.Equal(t, time.Duration(total-burst)*every, calls[len(calls)-1].at.Sub(t0), "the last record went as soon as it could")
}

// putThroughLimit puts n records (record(i)) at once to a one-shard stream with
// RateLimit 50 (500 records/s and 512 KiB/s), one Kinesis record each, sent as soon
// as the limiter lets them, and returns the calls once every record was written.
func putThroughLimit(t *testing.T, n int, record func(i int) Record) []sentAt {
	t.Helper()
	f := newFakeKinesis("s", 1)
	calls := recordCalls(f)
	p := newTestProducer(t, f, func(o *Options) {
		o.RateLimit = 50
		o.DisableAggregation = true
		o.RecordMaxBufferedTime = -1
	})
	c := newCollector()
	for i := range n {
		require.NoError(t, p.Put(context.Background(), record(i), c.done(i)))
	}
	require.NoError(t, p.Flush(context.Background()))
	for i, o := range c.exactlyOnce(t, n) {
		require.NoError(t, o.err, "record %d", i)
	}
	return calls()
}

// RateLimit 50 is 500 records/s per shard: a burst of a second's worth, then one
// record every 2 ms.
func TestRateLimitPacesRecordsPerShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := putThroughLimit(t, 1500, func(i int) Record { return Record{PartitionKey: testKey(i), Data: []byte("x")} })
		checkPaced(t, calls, 1500, 500, 2*time.Millisecond)
	})
}

// RateLimit 50 is 512 KiB/s per shard: 8 records of 64 KiB at once, then one every
// 125 ms.
func TestRateLimitPacesBytesPerShard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		data := []byte(strings.Repeat("x", 64<<10-1)) // 64 KiB with the partition key "k"
		calls := putThroughLimit(t, 16, func(int) Record { return Record{PartitionKey: "k", Data: data} })
		checkPaced(t, calls, 16, 8, 125*time.Millisecond)
	})
}

// A record the rate limit holds past its TTL fails then, exactly, as rate limited.
func TestRateLimitedRecordsExpireAtTheirTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		p := newTestProducer(t, f, quiet, func(o *Options) {
			o.RateLimit = 10 // 100 records/s
			o.DisableAggregation = true
			o.RecordMaxBufferedTime = -1
			o.RecordTTL = 500 * time.Millisecond
		})
		const n = 300
		c := newCollector()
		start := time.Now()
		for i := range n {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: []byte("x")}, c.done(i)))
		}
		require.NoError(t, p.Flush(context.Background()))
		assertFromArrival(t, 500*time.Millisecond, time.Since(start), "the last records failed at their TTL")
		written, expired := 0, 0
		for i, o := range c.exactlyOnce(t, n) {
			if o.err == nil {
				written++
				continue
			}
			expired++
			require.ErrorIs(t, o.err, ErrRecordExpired, "record %d", i)
			require.ErrorIs(t, o.err, errRateLimited, "record %d", i)
			assert.Empty(t, o.res.Attempts, "record %d never left its queue", i)
		}
		// 100 at once, then one every 10 ms while the TTL lasts: the one due at
		// 500 ms is past its TTL (which ends at 500 ms: expiry is inclusive).
		assert.Equal(t, 100+49, written)
		assert.Equal(t, n-written, expired)
		assert.EqualValues(t, expired, p.Stats().UserRecordsExpired)
	})
}
