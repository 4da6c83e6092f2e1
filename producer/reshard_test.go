package producer

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// putRange puts records from..to-1 and waits for their results.
func putRange(t *testing.T, p *Producer, c *collector, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Flush(context.Background()))
}

func TestReshardFollowsTheStream(t *testing.T) {
	f := newFakeKinesis("s", 2)
	p := newTestProducer(t, f, quiet)
	c := newCollector()
	putRange(t, p, c, 0, 2000)

	// Split behind the producer's back: its map is stale, its aggregates for the parent
	// land on one child and hold records of the other.
	f.split(f.openShardIDs()[0])
	putRange(t, p, c, 2000, 4000)
	require.Eventually(t, func() bool { return len(p.Stats().Shards) == 3 }, 5*time.Second, 10*time.Millisecond,
		"the shard map follows the split")
	putRange(t, p, c, 4000, 5000)

	ids := f.openShardIDs()
	f.merge(ids[1], ids[2])
	putRange(t, p, c, 5000, 7000)
	require.Eventually(t, func() bool { return len(p.Stats().Shards) == 2 }, 5*time.Second, 10*time.Millisecond,
		"the shard map follows the merge")

	out := c.exactlyOnce(t, 7000)
	for i, o := range out {
		require.NoError(t, o.err, "record %d", i)
		assert.True(t, sameShard(f, testKey(i), o.res.ShardID), "record %d reported on %s, outside its range", i, o.res.ShardID)
	}
	checkWritten(t, f, 7000, nil)
	st := p.Stats()
	assert.Positive(t, st.UserRecordsReput, "records of the other child were put again")
	assert.EqualValues(t, 7000, st.UserRecordsPut)
	assert.EqualValues(t, 7000, st.UserRecordsReceived)
}

func TestReshardWhileProducing(t *testing.T) {
	f := newFakeKinesis("s", 4)
	p := newTestProducer(t, f, quiet, func(o *Options) { o.RecordMaxBufferedTime = 5 * time.Millisecond })
	c := newCollector()
	const n = 20000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range n {
			if err := p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	// Reshard a few times while the records flow.
	for round := range 4 {
		c.waitFor(t, (round+1)*n/6)
		ids := f.openShardIDs()
		if round%2 == 0 {
			f.split(ids[len(ids)-1])
		} else {
			f.merge(ids[len(ids)-2], ids[len(ids)-1])
		}
	}
	<-done
	require.NoError(t, p.Flush(context.Background()))
	for i, o := range c.exactlyOnce(t, n) {
		require.NoError(t, o.err, "record %d", i)
		assert.True(t, sameShard(f, testKey(i), o.res.ShardID), "record %d reported on %s, outside its range", i, o.res.ShardID)
	}
	checkWritten(t, f, n, nil)
}

// waitFor waits until at least n records have a result; it reports a failure (but
// does not stop the test, so that other goroutines may call it) after 10 s.
func (c *collector) waitFor(t *testing.T, n int) bool {
	t.Helper()
	return assert.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.got) >= n
	}, 10*time.Second, time.Millisecond)
}

func TestPreserveOrder(t *testing.T) {
	for _, agg := range []bool{true, false} {
		t.Run(map[bool]string{true: "aggregated", false: "plain"}[agg], func(t *testing.T) {
			f := newFakeKinesis("s", 4)
			var mu sync.Mutex
			rng := rand.New(rand.NewPCG(7, 7))
			f.putHook = func(call int, in *kinesis.PutRecordsInput) ([]string, error) {
				mu.Lock()
				defer mu.Unlock()
				if call > 60 {
					return nil, nil
				}
				if rng.IntN(10) == 0 {
					return nil, apiError("InternalFailure", "boom", smithy.FaultServer)
				}
				codes := make([]string, len(in.Records))
				for i := range codes {
					if rng.IntN(3) == 0 {
						codes[i] = "ProvisionedThroughputExceededException"
					}
				}
				return codes, nil
			}
			p := newTestProducer(t, f, quiet, func(o *Options) {
				o.PreserveOrder = true
				o.DisableAggregation = !agg
				o.RecordMaxBufferedTime = time.Millisecond
				o.AggregationMaxSize = 2000 // many aggregates per shard
			})
			c := newCollector()
			n := 3000
			if !agg {
				n = 600
			}
			for i := range n {
				require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i % 40), Data: testData(i)}, c.done(i)))
			}
			require.NoError(t, p.Flush(context.Background()))
			out := c.exactlyOnce(t, n)
			last := make(map[string]Result)
			retried := 0
			for i, o := range out {
				require.NoError(t, o.err, "record %d", i)
				if len(o.res.Attempts) > 1 {
					retried++
				}
				prev, ok := last[o.res.ShardID]
				if ok {
					after := o.res.SequenceNumber > prev.SequenceNumber ||
						(o.res.SequenceNumber == prev.SequenceNumber && o.res.SubSequenceNumber > prev.SubSequenceNumber)
					require.True(t, after, "record %d written before an earlier record of shard %s", i, o.res.ShardID)
				}
				last[o.res.ShardID] = o.res
			}
			assert.Positive(t, retried, "the test must exercise retries")
		})
	}
}

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()

	f := newFakeKinesis("s", 2)
	f.putHook = func(call int, in *kinesis.PutRecordsInput) ([]string, error) {
		if call == 1 {
			codes := make([]string, len(in.Records))
			codes[0] = "InternalFailure"
			return codes, nil
		}
		return nil, nil
	}
	p := newTestProducer(t, f, quiet, func(o *Options) { o.MeterProvider = provider })
	putAll(t, p, 1000)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := make(map[string]int64)
	counts := make(map[string]uint64)
	shards := make(map[string]map[string]bool)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != meterName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sums[m.Name] += dp.Value
					if v, ok := dp.Attributes.Value("shard"); ok {
						if shards[m.Name] == nil {
							shards[m.Name] = make(map[string]bool)
						}
						shards[m.Name][v.AsString()] = true
					}
					v, ok := dp.Attributes.Value("stream")
					assert.True(t, ok && v.AsString() == "s", "%s has the stream attribute", m.Name)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					sums[m.Name] += dp.Value
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
					sums[m.Name] += dp.Sum
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
				}
			}
		}
	}
	assert.EqualValues(t, 1000, sums["UserRecordsReceived"])
	assert.EqualValues(t, 1000, sums["UserRecordsPut"])
	assert.Len(t, shards["UserRecordsPut"], 2, "per shard")
	assert.Positive(t, sums["KinesisRecordsPut"])
	assert.Positive(t, sums["UserRecordsDataPut"])
	assert.Positive(t, sums["KinesisRecordsDataPut"])
	assert.EqualValues(t, 0, sums["UserRecordsPending"])
	assert.EqualValues(t, 1, sums["ErrorsByCode"])
	assert.EqualValues(t, 1000, sums["UserRecordsPerKinesisRecord"])
	assert.EqualValues(t, sums["KinesisRecordsPut"], counts["UserRecordsPerKinesisRecord"])
	assert.EqualValues(t, 1, sums["RetriesPerRecord"])
	assert.Positive(t, counts["RequestTime"])
	assert.Positive(t, counts["BufferingTime"])
	assert.Greater(t, sums["UserRecordsPerPutRecordsRequest"], int64(1000), "the retried aggregate counts twice")

	st := p.Stats()
	assert.EqualValues(t, 1000, st.UserRecordsPut)
	assert.EqualValues(t, 1, st.ErrorsByCode["InternalFailure"])
	assert.EqualValues(t, 1, st.Retries)
}

// The usual shutdown order, Producer.Close then MeterProvider.Shutdown, exports the
// final values of the counters: a collection after Close still has them.
func TestMetricsAfterClose(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := newFakeKinesis("s", 2)
	p, err := New(f, "s", quiet, func(o *Options) { o.MeterProvider = provider })
	require.NoError(t, err)
	putAll(t, p, 300)
	require.NoError(t, p.Close(context.Background()))
	st := p.Stats()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.NoError(t, provider.Shutdown(context.Background()))
	got := make(map[string]int64)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			case metricdata.Gauge[int64]:
				got[m.Name] = 0
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			}
		}
	}
	assert.EqualValues(t, 300, got["UserRecordsReceived"])
	assert.EqualValues(t, 300, got["UserRecordsPut"])
	assert.Equal(t, st.UserRecordsDataPut, got["UserRecordsDataPut"])
	assert.Equal(t, st.KinesisRecordsPut, got["KinesisRecordsPut"])
	assert.Equal(t, st.KinesisRecordsDataPut, got["KinesisRecordsDataPut"])
	v, ok := got["UserRecordsPending"]
	assert.True(t, ok, "UserRecordsPending is exported after Close")
	assert.Zero(t, v)
}

// A record written to a shard the map does not know waits for a listing to learn the
// shard's range; if listing keeps failing it still gets its result when its TTL
// ends: an expiry that says where it landed and wraps the listing's error.
func TestParkedRecordsExpireWhenListingKeepsFailing(t *testing.T) {
	f := newFakeKinesis("s", 1)
	p := newTestProducer(t, f, quiet, func(o *Options) { o.RecordTTL = 700 * time.Millisecond })
	_, err := p.PutSync(context.Background(), Record{PartitionKey: "warm", Data: []byte("x")})
	require.NoError(t, err)

	listErr := error(apiError("LimitExceededException", "listing is throttled", smithy.FaultClient))
	f.listBroken.Store(&listErr)
	f.split(f.openShardIDs()[0])
	c := newCollector()
	start := time.Now()
	putRange(t, p, c, 0, 200) // aggregated for the closed parent, written to a child

	elapsed := time.Since(start)
	out := c.exactlyOnce(t, 200)
	var expired int
	for i, o := range out {
		if o.err == nil {
			continue // a plain record (alone in its aggregate) is where Kinesis put it
		}
		expired++
		var ee *ExpiredError
		require.ErrorAs(t, o.err, &ee, "record %d", i)
		var api smithy.APIError
		require.ErrorAs(t, o.err, &api, "record %d: the expiry wraps the listing's error", i)
		assert.Equal(t, "LimitExceededException", api.ErrorCode())
		assert.Contains(t, o.err.Error(), "shardId-", "it names the shard the record landed on")
	}
	assert.Positive(t, expired, "aggregates landed on the unknown child")
	assert.Less(t, elapsed, 700*time.Millisecond+6*time.Second, "within the TTL plus the mapper's backoff")
	assert.EqualValues(t, expired, p.Stats().UserRecordsExpired)
}
