package producer

import (
	"context"
	"math/big"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// Integration tests run against kinesis-mock (internal/testbed), with faults injected
// by internal/faults where the emulator cannot produce them. Volumes stay small: the
// emulator writes about 1,500 Kinesis records/s.

func integration(t *testing.T) *testbed.Env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test (kinesis-mock); run without -short")
	}
	return testbed.Get(t)
}

// streamRecord is a user record read back from the stream.
type streamRecord struct {
	shard      string
	seq        string
	sub        int
	pk         string
	data       string
	outOfRange bool
}

// readStream reads every shard of stream from the trim horizon with GetRecords and
// deaggregates what it finds, closed shards included.
func readStream(t *testing.T, client *kinesis.Client, stream string) []streamRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var shards []types.Shard
	in := &kinesis.ListShardsInput{StreamName: aws.String(stream)}
	for {
		out, err := client.ListShards(ctx, in)
		require.NoError(t, err)
		shards = append(shards, out.Shards...)
		if out.NextToken == nil {
			break
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken}
	}
	var recs []streamRecord
	for _, sh := range shards {
		rng, err := aggregation.ParseHashRange(*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey)
		require.NoError(t, err)
		it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		require.NoError(t, err)
		iter := it.ShardIterator
		for iter != nil {
			out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(10000)})
			require.NoError(t, err)
			for _, r := range out.Records {
				subs, err := aggregation.Deaggregate(r.Data)
				require.NoError(t, err)
				aggregated := aggregation.IsAggregated(r.Data)
				for i, u := range subs {
					if !aggregated {
						u.PartitionKey, u.ExplicitHashKey = aws.ToString(r.PartitionKey), ""
					}
					h, err := u.HashKey()
					require.NoError(t, err)
					recs = append(recs, streamRecord{shard: *sh.ShardId, seq: *r.SequenceNumber, sub: i,
						pk: u.PartitionKey, data: string(u.Data), outOfRange: !rng.Contains(h)})
				}
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return recs
}

// checkStream checks that the stream holds exactly the n test records, each once in
// its shard's range unless dup allows more, and that each result names where it is.
func checkStream(t *testing.T, recs []streamRecord, out []outcome, dup func(i int) bool) {
	t.Helper()
	byData := make(map[string][]streamRecord)
	outside := 0
	for _, r := range recs {
		if r.outOfRange {
			outside++ // consumers drop it; it must also exist in range
			continue
		}
		byData[r.data] = append(byData[r.data], r)
	}
	for i, o := range out {
		got := byData[string(testData(i))]
		delete(byData, string(testData(i)))
		if len(got) == 0 {
			t.Errorf("record %d is missing from the stream", i)
			continue
		}
		if len(got) > 1 && (dup == nil || !dup(i)) {
			t.Errorf("record %d was written %d times", i, len(got))
		}
		if o.err != nil {
			continue
		}
		found := false
		for _, r := range got {
			found = found || (r.shard == o.res.ShardID && r.seq == o.res.SequenceNumber && int64(r.sub) == o.res.SubSequenceNumber)
		}
		assert.True(t, found, "record %d is not where its result says (%s %s/%d)", i, o.res.ShardID, o.res.SequenceNumber, o.res.SubSequenceNumber)
	}
	assert.Empty(t, byData, "records in the stream that were never put")
	if outside > 0 {
		t.Logf("%d sub-records lie outside their shard's range (dropped by consumers, written again in range)", outside)
	}
}

func TestIntegrationRoundTrip(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 4)
	client := env.Kinesis()
	p, err := New(client, stream, func(o *Options) { o.RecordMaxBufferedTime = 20 * time.Millisecond })
	require.NoError(t, err)
	c := newCollector()
	const n = 3000
	for i := range n {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Close(context.Background()))
	out := c.exactlyOnce(t, n)
	for i, o := range out {
		require.NoError(t, o.err, "record %d", i)
	}
	recs := readStream(t, client, stream)
	for _, r := range recs {
		assert.False(t, r.outOfRange, "sub-record %s/%d outside shard %s", r.seq, r.sub, r.shard)
	}
	checkStream(t, recs, out, nil)
	st := p.Stats()
	assert.EqualValues(t, n, st.UserRecordsPut)
	assert.Len(t, st.Shards, 4)
	assert.Less(t, st.KinesisRecordsPut, int64(n/100), "aggregated")
	t.Logf("%d user records in %d Kinesis records, %d PutRecords calls", n, st.KinesisRecordsPut, st.PutRecordsRequests)
}

func TestIntegrationReshardDuringProduction(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 2)
	client := env.Kinesis()
	p, err := New(client, stream, quiet, func(o *Options) { o.RecordMaxBufferedTime = 10 * time.Millisecond })
	require.NoError(t, err)
	c := newCollector()
	var put atomic.Int64 // records put so far
	stop := make(chan struct{})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)); err != nil {
				t.Error(err)
				return
			}
			put.Add(1)
			if i%50 == 49 {
				// Let results come back: the reshards must happen while producing.
				c.waitFor(t, i-500)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	open := func() []types.Shard {
		out, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream),
			ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
		require.NoError(t, err)
		return out.Shards
	}
	active := func() {
		w := kinesis.NewStreamExistsWaiter(client, func(o *kinesis.StreamExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, 100*time.Millisecond
		})
		require.NoError(t, w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, 30*time.Second))
	}
	// producing waits until 1,000 records put after now have results.
	producing := func() { c.waitFor(t, int(put.Load())+1000) }

	producing()
	first := open()[0]
	start, _ := new(big.Int).SetString(*first.HashKeyRange.StartingHashKey, 10)
	end, _ := new(big.Int).SetString(*first.HashKeyRange.EndingHashKey, 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(start, end), 1)
	_, err = client.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: first.ShardId,
		NewStartingHashKey: aws.String(mid.String())})
	require.NoError(t, err)
	active()
	producing()
	require.Eventually(t, func() bool { return len(p.Stats().Shards) == 3 }, 10*time.Second, 10*time.Millisecond,
		"the shard map follows the split")

	// Merge the split's two children back.
	var children []types.Shard
	for _, sh := range open() {
		if aws.ToString(sh.ParentShardId) == *first.ShardId {
			children = append(children, sh)
		}
	}
	require.Len(t, children, 2)
	a, b := children[0], children[1]
	sa, _ := new(big.Int).SetString(*a.HashKeyRange.StartingHashKey, 10)
	sb, _ := new(big.Int).SetString(*b.HashKeyRange.StartingHashKey, 10)
	if sa.Cmp(sb) > 0 {
		a, b = b, a
	}
	_, err = client.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream),
		ShardToMerge: a.ShardId, AdjacentShardToMerge: b.ShardId})
	require.NoError(t, err)
	active()
	producing()
	require.Eventually(t, func() bool { return len(p.Stats().Shards) == 2 }, 10*time.Second, 10*time.Millisecond,
		"the shard map follows the merge")

	close(stop)
	<-produced
	require.NoError(t, p.Close(context.Background()))
	n := int(put.Load())
	out := c.exactlyOnce(t, n)
	for i, o := range out {
		require.NoError(t, o.err, "record %d", i)
	}
	checkStream(t, readStream(t, client, stream), out, nil)
	st := p.Stats()
	t.Logf("%d records; shard map refreshes: %d, user records put again: %d", n, st.ShardMapRefreshes, st.UserRecordsReput)
}

func TestIntegrationFaults(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 4)
	inj := faults.New(nil, func(o *faults.Options) {
		o.Seed = 3
		o.ShardLimits = &faults.ShardLimits{RecordsPerSecond: 40, BytesPerSecond: 200 << 10}
	})
	t.Cleanup(inj.CloseIdleConnections)
	// The client keeps the SDK's standard retryer: the producer must turn it off for
	// its calls, or the SDK would retry too (and run out of retry quota).
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() })
	inj.Add(faults.Rule{Op: "PutRecords", Probability: 0.2, Fault: faults.ThrottleEntry()})
	inj.Add(faults.Rule{Op: "PutRecords", Probability: 0.1, Fault: faults.InternalFailureEntry()})
	inj.Add(faults.Rule{Op: "PutRecords", Times: 3, Fault: faults.InternalFailure()})
	inj.Add(faults.Rule{Op: "PutRecords", Times: 2, Fault: faults.ServiceUnavailable()})
	inj.Add(faults.Rule{Op: "PutRecords", Times: 2, Fault: faults.ConnectionReset()})
	inj.Add(faults.Rule{Op: "PutRecords", Times: 2, Fault: faults.After(faults.ConnectionReset())})

	p, err := New(client, stream, quiet, func(o *Options) {
		o.RecordMaxBufferedTime = 20 * time.Millisecond
		o.AggregationMaxSize = 4096 // more Kinesis records, more faults
	})
	require.NoError(t, err)
	c := newCollector()
	const n = 3000
	for i := range n {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Close(context.Background()))
	out := c.exactlyOnce(t, n)
	ambiguous := make(map[int]bool)
	retried := 0
	for i, o := range out {
		require.NoError(t, o.err, "record %d", i)
		if len(o.res.Attempts) > 1 {
			retried++
		}
		for _, a := range o.res.Attempts {
			ambiguous[i] = ambiguous[i] || a.Ambiguous
		}
	}
	assert.Positive(t, retried)
	assert.NotEmpty(t, ambiguous, "the After(ConnectionReset) faults are ambiguous")
	checkStream(t, readStream(t, env.Kinesis(), stream), out, func(i int) bool { return ambiguous[i] })

	// One HTTP request per attempt: no hidden SDK retries.
	st := p.Stats()
	assert.EqualValues(t, st.PutRecordsRequests, inj.Calls("PutRecords"))
	t.Logf("faults injected: %d, calls: %d, retried records: %d, errors: %v",
		inj.Injected("PutRecords"), inj.Calls("PutRecords"), retried, st.ErrorsByCode)
}

func TestIntegrationNonRetryableFailFast(t *testing.T) {
	env := integration(t)
	t.Run("stream deleted", func(t *testing.T) {
		stream := env.CreateStream(t, 1)
		client := env.Kinesis()
		p, err := New(client, stream, quiet)
		require.NoError(t, err)
		_, err = p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("before")})
		require.NoError(t, err)
		_, err = client.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(stream)})
		require.NoError(t, err)
		start := time.Now()
		var apiErr smithy.APIError
		require.Eventually(t, func() bool {
			_, err = p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("after")})
			return err != nil
		}, 10*time.Second, 10*time.Millisecond)
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "ResourceNotFoundException", apiErr.ErrorCode())
		assert.Less(t, time.Since(start), 10*time.Second, "long before the 30 s RecordTTL")
		require.NoError(t, p.Close(context.Background()))
	})
	t.Run("validation", func(t *testing.T) {
		stream := env.CreateStream(t, 1)
		inj := faults.New(nil)
		t.Cleanup(inj.CloseIdleConnections)
		inj.Add(faults.Rule{Op: "PutRecords", Fault: faults.Validation("1 validation error detected")})
		p, err := New(env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }), stream, quiet)
		require.NoError(t, err)
		start := time.Now()
		res, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "ValidationException", apiErr.ErrorCode())
		assert.Len(t, res.Attempts, 1)
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Equal(t, 1, inj.Calls("PutRecords"), "not retried, by us or the SDK")
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestIntegrationExpiryReportsTheLastCause(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 1)
	inj := faults.New(nil)
	t.Cleanup(inj.CloseIdleConnections)
	inj.Add(faults.Rule{Op: "PutRecords", Fault: faults.InternalFailureEntry()})
	p, err := New(env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }), stream, quiet,
		func(o *Options) { o.RecordTTL = time.Second })
	require.NoError(t, err)
	start := time.Now()
	_, err = p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
	require.ErrorIs(t, err, ErrRecordExpired)
	var entry *EntryError
	require.ErrorAs(t, err, &entry)
	assert.Equal(t, "InternalFailure", entry.Code)
	assert.Less(t, time.Since(start), 3*time.Second)
	require.NoError(t, p.Close(context.Background()))
}

func TestIntegrationBlockedPutAndCloseDrain(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 2)
	inj := faults.New(nil)
	t.Cleanup(inj.CloseIdleConnections)
	release := make(chan struct{})
	var once sync.Once
	inj.Add(faults.Rule{Op: "PutRecords", Hook: func(faults.Hit) { <-release }})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() })
	p, err := New(client, stream, func(o *Options) { o.MaxBufferedRecords = 50 })
	require.NoError(t, err)
	defer once.Do(func() { close(release) })
	c := newCollector()
	for i := range 50 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, p.Put(ctx, Record{PartitionKey: "k", Data: []byte("x")}, nil), context.DeadlineExceeded)
	assert.EqualValues(t, 50, p.Stats().UserRecordsPending)

	once.Do(func() { close(release) })
	require.NoError(t, p.Close(context.Background()), "Close drains")
	out := c.exactlyOnce(t, 50)
	for _, o := range out {
		require.NoError(t, o.err)
	}
	checkStream(t, readStream(t, client, stream), out, nil)
}
