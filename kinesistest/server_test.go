package kinesistest_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/kinesistest"
)

// noRetry returns a client of srv whose errors surface as they are.
func noRetry(srv *kinesistest.Server) *kinesis.Client {
	return kinesis.New(srv.Client().Options(), func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
}

func records(n, size int) []types.PutRecordsRequestEntry {
	out := make([]types.PutRecordsRequestEntry, n)
	for i := range out {
		out[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("pk-", i)), Data: make([]byte, size)}
	}
	return out
}

func streamARN(t *testing.T, c *kinesis.Client, name string) *string {
	t.Helper()
	out, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(name)})
	require.NoError(t, err)
	return out.StreamDescriptionSummary.StreamARN
}

func TestNewServerRejectsInvalidOptions(t *testing.T) {
	_, err := kinesistest.Start(func(o *kinesistest.Options) { o.MaxRecordSize = -1; o.IteratorTTL = -time.Second })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "MaxRecordSize")
	assert.Contains(t, err.Error(), "IteratorTTL")
}

func TestCreateStreamErrorsWrapTheAWSError(t *testing.T) {
	srv := kinesistest.NewServer(t)
	require.NoError(t, srv.CreateStream("s", 1))
	var inUse *types.ResourceInUseException
	require.ErrorAs(t, srv.CreateStream("s", 1), &inUse)
	var invalid *types.ValidationException
	require.ErrorAs(t, srv.CreateStream("bad name", 1), &invalid)
	require.ErrorAs(t, srv.CreateStream("zero", 0), &invalid)
}

// Everything runs inside a synctest bubble: the clients' connections are in
// memory, and the server's clock is the bubble's.
func TestClientWorksInsideSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t)
		require.NoError(t, srv.CreateStream("s", 1))
		c := noRetry(srv)
		ctx := context.Background()
		_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(3, 10)})
		require.NoError(t, err)
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)

		time.Sleep(5*time.Minute + time.Second)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		var expired *types.ExpiredIteratorException
		require.ErrorAs(t, err, &expired, "iterators expire after 5 minutes of the bubble's clock")

		// 25 hours later the records are past the 24-hour retention.
		time.Sleep(25 * time.Hour)
		it, err = c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		got, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		require.NoError(t, err)
		assert.Empty(t, got.Records, "trimmed by retention")
	})
}

func TestRetentionPeriodChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t)
		require.NoError(t, srv.CreateStream("s", 1))
		c, ctx := noRetry(srv), context.Background()
		_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(2, 1)})
		require.NoError(t, err)

		_, err = c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(48)})
		require.NoError(t, err)
		sum, err := c.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
		require.NoError(t, err)
		assert.Equal(t, int32(48), aws.ToInt32(sum.StreamDescriptionSummary.RetentionPeriodHours))

		var invalid *types.InvalidArgumentException
		_, err = c.IncreaseStreamRetentionPeriod(ctx, &kinesis.IncreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(24)})
		require.ErrorAs(t, err, &invalid, "an increase must not shorten")
		_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(12)})
		require.ErrorAs(t, err, &invalid, "24 hours is the minimum")

		time.Sleep(30 * time.Hour)
		read := func() int {
			it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
				ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
			require.NoError(t, err)
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
			require.NoError(t, err)
			return len(out.Records)
		}
		assert.Equal(t, 2, read(), "kept for 48 hours")
		_, err = c.DecreaseStreamRetentionPeriod(ctx, &kinesis.DecreaseStreamRetentionPeriodInput{StreamName: aws.String("s"), RetentionPeriodHours: aws.Int32(24)})
		require.NoError(t, err)
		assert.Equal(t, 0, read(), "trimmed at once by the shorter retention")
	})
}

// A producer writing twice a shard's limit: after the first second's burst,
// the shard accepts exactly 1,000 records per second and fails the rest with
// ProvisionedThroughputExceededException in the PutRecords results.
func TestWriteLimitThrottlesAtTheShardRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.Limits = &kinesistest.Limits{} })
		require.NoError(t, srv.CreateStream("s", 1))
		c := noRetry(srv)
		accepted, throttled := 0, 0
		perSecond := map[int]int{}
		start := time.Now()
		for range 200 { // 100 records every 50 ms for 10 s: 2,000 records/s
			out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(100, 10)})
			require.NoError(t, err)
			for _, r := range out.Records {
				if r.ErrorCode == nil {
					accepted++
					perSecond[int(time.Since(start)/time.Second)]++
					continue
				}
				throttled++
				require.Equal(t, "ProvisionedThroughputExceededException", *r.ErrorCode)
				require.Contains(t, *r.ErrorMessage, "Rate exceeded for shard shardId-000000000000 in stream s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		// A full bucket (1,000) plus 1,000 per second for 10 s.
		assert.InDelta(t, 11000, accepted, 50)
		assert.Equal(t, 20000-accepted, throttled)
		for s := 2; s < 10; s++ {
			assert.InDelta(t, 1000, perSecond[s], 50, "second %d", s)
		}
		assert.Equal(t, int64(throttled), srv.Stats().Throttled)
	})
}

func TestWriteLimitCountsBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.Limits = &kinesistest.Limits{} })
		require.NoError(t, srv.CreateStream("s", 1))
		c := noRetry(srv)
		// 5 records of 300 KB: the bucket holds 1 MiB, so three fit.
		out, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(5, 300_000)})
		require.NoError(t, err)
		assert.Equal(t, int32(2), *out.FailedRecordCount)
		// PutRecord fails as a whole.
		_, err = c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 300_000)})
		var pte *types.ProvisionedThroughputExceededException
		require.ErrorAs(t, err, &pte)
		time.Sleep(time.Second)
		_, err = c.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"), PartitionKey: aws.String("k"), Data: make([]byte, 300_000)})
		require.NoError(t, err, "refilled after a second")
	})
}

// A reader calling GetRecords 10 times a second gets 5 answers a second.
func TestReadLimitServesFiveCallsASecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.Limits = &kinesistest.Limits{} })
		require.NoError(t, srv.CreateStream("s", 1))
		c, ctx := noRetry(srv), context.Background()
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeLatest})
		require.NoError(t, err)
		iter := it.ShardIterator
		served := map[int]int{}
		start := time.Now()
		for range 100 {
			out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err == nil {
				served[int(time.Since(start)/time.Second)]++
				iter = out.NextShardIterator
			} else {
				var pte *types.ProvisionedThroughputExceededException
				require.ErrorAs(t, err, &pte)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The first second also spends the bucket it started with: 5 + 4 refilled.
		assert.Equal(t, 9, served[0], "the first second")
		for s := 1; s < 10; s++ {
			assert.Equal(t, 5, served[s], "second %d", s)
		}
	})
}

// A GetRecords call may return more than a second's worth; the shard then
// refuses reads until the debt is paid back.
func TestReadLimitDebtAfterABigRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.Limits = &kinesistest.Limits{BytesPerSecond: -1, RecordsPerSecond: -1} })
		require.NoError(t, srv.CreateStream("s", 1))
		c, ctx := noRetry(srv), context.Background()
		for range 5 { // 5 x 4 x 256 KB = 5 MiB
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(4, 256<<10)})
			require.NoError(t, err)
		}
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		require.NoError(t, err)
		out, err := c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
		require.NoError(t, err)
		require.Len(t, out.Records, 20)
		// 5 MiB read with 2 MiB in the bucket: 3 MiB of debt, 1.5 s at 2 MiB/s.
		time.Sleep(1400 * time.Millisecond)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		var pte *types.ProvisionedThroughputExceededException
		require.ErrorAs(t, err, &pte)
		time.Sleep(200 * time.Millisecond)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		require.NoError(t, err)
	})
}

func TestControlSleepTimesOutTheClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t)
		require.NoError(t, srv.CreateStream("s", 1))
		srv.Control(kinesistest.OpListShards, func(c *kinesistest.Call) (any, error, bool) {
			return nil, c.Sleep(time.Minute), true
		})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := noRetry(srv).ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 3*time.Second, time.Since(start))
	})
}

// A control that lets the call through and then drops the connection makes
// an ambiguous failure: the records are stored, the client sees an error
// and, retrying, writes them twice.
func TestControlResetAfterProceedDuplicates(t *testing.T) {
	srv := kinesistest.NewServer(t)
	require.NoError(t, srv.CreateStream("s", 1))
	srv.Control(kinesistest.OpPutRecords, func(c *kinesistest.Call) (any, error, bool) {
		if _, err := c.Proceed(); err != nil {
			return nil, err, true
		}
		return nil, kinesistest.ErrConnectionReset, true
	})
	out, err := srv.Client().PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(2, 1)})
	require.NoError(t, err, "the SDK's retryer retried the reset")
	assert.Equal(t, int32(0), *out.FailedRecordCount)
	assert.Equal(t, int64(4), srv.Stats().RecordsPut, "written twice")

	srv.Control(kinesistest.OpPutRecords, func(*kinesistest.Call) (any, error, bool) {
		return nil, kinesistest.ErrConnectionReset, true
	})
	_, err = noRetry(srv).PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(2, 1)})
	require.Error(t, err)
	assert.Equal(t, int64(4), srv.Stats().RecordsPut, "a reset before the call stores nothing")
}

func TestControlAnswersWithAnOutput(t *testing.T) {
	srv := kinesistest.NewServer(t)
	srv.Control(kinesistest.OpDescribeStreamSummary, func(*kinesistest.Call) (any, error, bool) {
		return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
			StreamName: aws.String("ghost"), StreamStatus: types.StreamStatusUpdating, OpenShardCount: aws.Int32(7),
		}}, nil, true
	})
	out, err := srv.Client().DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("ghost")})
	require.NoError(t, err)
	assert.Equal(t, types.StreamStatusUpdating, out.StreamDescriptionSummary.StreamStatus)
	assert.Equal(t, int32(7), *out.StreamDescriptionSummary.OpenShardCount)

	srv.Control(kinesistest.OpListShards, func(*kinesistest.Call) (any, error, bool) {
		return &kinesis.PutRecordsOutput{}, nil, true
	})
	_, err = noRetry(srv).ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("ghost")})
	var internal *types.InternalFailureException
	require.ErrorAs(t, err, &internal)
	assert.Contains(t, err.Error(), "answered with a *kinesis.PutRecordsOutput")
}

func TestURLServesTheSameAPI(t *testing.T) {
	srv := kinesistest.NewServer(t)
	require.NoError(t, srv.CreateStream("s", 2))
	url := srv.URL()
	require.True(t, strings.HasPrefix(url, "http://127.0.0.1:"), url)
	c := kinesis.New(srv.Client().Options(), func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(url)
		o.HTTPClient = &http.Client{Transport: kinesistest.SafeBodyTransport(nil)} // over TCP
	})
	out, err := c.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
	require.NoError(t, err)
	assert.Len(t, out.Shards, 2)
}

func TestCallsAfterCloseFail(t *testing.T) {
	srv, err := kinesistest.Start()
	require.NoError(t, err)
	require.NoError(t, srv.CreateStream("s", 1))
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "idempotent")
	_, err = srv.Kinesis().ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
	require.Error(t, err)
	_, err = noRetry(srv).ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")})
	require.Error(t, err)
}
