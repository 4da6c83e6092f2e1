package kinesistest_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/kinesistest"
	"github.com/kinesis-go/kinesis/producer"
)

// producerAtTwiceTheLimit runs this module's producer at 2,000 records/s into
// one shard (twice its limit) for 4 s under the server's AWS limits, and
// returns the share of its PutRecords calls in which the shard throttled
// entries.
func producerAtTwiceTheLimit(t *testing.T, rateLimit int) float64 {
	var throttledShare float64
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.Limits = &kinesistest.Limits{} })
		require.NoError(t, srv.CreateStream("s", 1))
		var throttledCalls atomic.Int64
		srv.Control(kinesistest.OpPutRecords, func(c *kinesistest.Call) (any, error, bool) {
			c.KeepControl()
			out, err := c.Proceed()
			if o, ok := out.(*kinesis.PutRecordsOutput); ok && err == nil && aws.ToInt32(o.FailedRecordCount) > 0 {
				throttledCalls.Add(1)
			}
			return out, err, true
		})
		p, err := producer.New(srv.Client(), "s", func(o *producer.Options) {
			o.DisableAggregation = true // one Kinesis record per user record: the records/s limit binds
			o.RateLimit = rateLimit
			o.RecordTTL = time.Minute
			o.Logger = slog.New(slog.DiscardHandler)
		})
		require.NoError(t, err)
		ctx := context.Background()
		for i := range 8000 {
			require.NoError(t, p.Put(ctx, producer.Record{PartitionKey: fmt.Sprint(i), Data: make([]byte, 100)}, nil))
			if i%200 == 199 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		require.NoError(t, p.Close(ctx))
		st := srv.Stats()
		assert.Equal(t, int64(8000), st.RecordsPut, "every record written in the end")
		calls := st.Calls[kinesistest.OpPutRecords]
		throttledShare = float64(throttledCalls.Load()) / float64(calls)
		t.Logf("RateLimit %d: %d of %d PutRecords calls throttled (%.2f%%); %d of %d entries (%.2f%%)",
			rateLimit, throttledCalls.Load(), calls, 100*throttledShare,
			st.Throttled, st.RecordsPut+st.Throttled, 100*float64(st.Throttled)/float64(st.RecordsPut+st.Throttled))
	})
	return throttledShare
}

// With RateLimit 100 the producer's own per-shard limiter keeps the shard
// from throttling it: under 1% of its calls see a throttled entry.
func TestProducerRateLimiterAvoidsThrottling(t *testing.T) {
	share := producerAtTwiceTheLimit(t, 100)
	assert.Less(t, share, 0.01)
}

// With the default RateLimit (150%, like the KPL) the shard throttles the
// excess, and retries still deliver every record.
func TestProducerDefaultRateLimitIsThrottledAndRetries(t *testing.T) {
	share := producerAtTwiceTheLimit(t, producer.DefaultRateLimit)
	assert.Greater(t, share, 0.0, "150% of the limit is throttled by the shard")
}
