package producer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putRange puts records from..to-1 and waits for their results.
func putRange(t *testing.T, p *Producer, c *collector, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Flush(context.Background()))
}

// After a reshard, the first records landing on a shard the map does not know ask for
// a listing, which comes minRefreshGap after the previous one: by then the map has
// the new shards, exactly.
func TestReshardFollowsTheStream(t *testing.T) {
	synctest.Test(t, testReshardFollowsTheStream)
}

func testReshardFollowsTheStream(t *testing.T) {
	f := newFakeKinesis("s", 2)
	p := newTestProducer(t, f, quiet)
	c := newCollector()
	putRange(t, p, c, 0, 2000)

	// Split behind the producer's back: its map is stale, its aggregates for the parent
	// land on one child and hold records of the other.
	f.split(f.openShardIDs()[0])
	start := time.Now()
	putRange(t, p, c, 2000, 4000)
	synctest.Wait()
	require.Len(t, p.Stats().Shards, 3, "the shard map follows the split")
	assert.Equal(t, p.Stats().ShardMapRefreshes, int64(2))
	assert.LessOrEqual(t, time.Since(start), minRefreshGap, "records parked for the listing waited at most minRefreshGap")
	putRange(t, p, c, 4000, 5000)

	time.Sleep(minRefreshGap)
	ids := f.openShardIDs()
	f.merge(ids[1], ids[2])
	start = time.Now()
	putRange(t, p, c, 5000, 7000)
	synctest.Wait()
	require.Len(t, p.Stats().Shards, 2, "the shard map follows the merge")
	assertFromArrival(t, 0, time.Since(start), "the last listing was long enough ago: listed at once")

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
	synctest.Test(t, testReshardWhileProducing)
}

func testReshardWhileProducing(t *testing.T) {
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

// A record written to a shard the map does not know waits for a listing to learn the
// shard's range; if listing keeps failing it still gets its result when its TTL
// ends: an expiry that says where it landed and wraps the listing's error.
func TestParkedRecordsExpireWhenListingKeepsFailing(t *testing.T) {
	synctest.Test(t, testParkedRecordsExpireWhenListingKeepsFailing)
}

func testParkedRecordsExpireWhenListingKeepsFailing(t *testing.T) {
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
	assertFromArrival(t, 700*time.Millisecond, elapsed, "at their TTL: the mapper's backoff ends there")
	assert.EqualValues(t, expired, p.Stats().UserRecordsExpired)
}
