package kinesistest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/kinesistest"
)

func register(t *testing.T, c *kinesis.Client, stream, name string) string {
	t.Helper()
	arn := streamARN(t, c, stream)
	out, err := c.RegisterStreamConsumer(context.Background(), &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String(name)})
	require.NoError(t, err)
	assert.Equal(t, types.ConsumerStatusCreating, out.Consumer.ConsumerStatus, "like AWS")
	d, err := c.DescribeStreamConsumer(context.Background(), &kinesis.DescribeStreamConsumerInput{ConsumerARN: out.Consumer.ConsumerARN})
	require.NoError(t, err)
	assert.Equal(t, types.ConsumerStatusActive, d.ConsumerDescription.ConsumerStatus)
	assert.Equal(t, aws.ToString(arn), aws.ToString(d.ConsumerDescription.StreamARN))
	return aws.ToString(out.Consumer.ConsumerARN)
}

func subscribe(t *testing.T, c *kinesis.Client, consumerARN, shard string, pos types.StartingPosition) *kinesis.SubscribeToShardEventStream {
	t.Helper()
	out, err := c.SubscribeToShard(context.Background(), &kinesis.SubscribeToShardInput{
		ConsumerARN: aws.String(consumerARN), ShardId: aws.String(shard), StartingPosition: &pos,
	}, ownEventStreamCodec)
	require.NoError(t, err)
	t.Cleanup(func() { out.GetStream().Close() })
	return out.GetStream()
}

// ownEventStreamCodec gives a SubscribeToShard call its own protocol instance:
// smithy-go v1.28.9 decodes every event stream of a client with one shared
// decoder, so concurrent subscriptions on one client race (see consumer/fanout.go).
func ownEventStreamCodec(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) }

func nextEvent(t *testing.T, es *kinesis.SubscribeToShardEventStream) (types.SubscribeToShardEvent, bool) {
	t.Helper()
	ev, ok := <-es.Events()
	if !ok {
		require.NoError(t, es.Err())
		return types.SubscribeToShardEvent{}, false
	}
	e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
	require.True(t, isEvent, "%T", ev)
	return e.Value, true
}

func TestSubscribeToShardStreamsRecordsThenChildShards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t)
		require.NoError(t, srv.CreateStream("s", 1))
		c, ctx := noRetry(srv), context.Background()
		arn := register(t, c, "s", "app")
		put, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(3, 5)})
		require.NoError(t, err)

		es := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
		ev, ok := nextEvent(t, es)
		require.True(t, ok)
		require.Len(t, ev.Records, 3)
		assert.Equal(t, aws.ToString(put.Records[2].SequenceNumber), aws.ToString(ev.ContinuationSequenceNumber))
		assert.Equal(t, int64(0), aws.ToInt64(ev.MillisBehindLatest))

		// A second subscription of the same consumer to the same shard is refused.
		_, err = c.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{ConsumerARN: aws.String(arn), ShardId: aws.String("shardId-000000000000"),
			StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeLatest}})
		var inUse *types.ResourceInUseException
		require.ErrorAs(t, err, &inUse)

		// New records arrive as they are put.
		_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(2, 5)})
		require.NoError(t, err)
		ev, ok = nextEvent(t, es)
		require.True(t, ok)
		require.Len(t, ev.Records, 2)

		// Closing the shard ends the stream with its children.
		_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"),
			NewStartingHashKey: aws.String("170141183460469231731687303715884105728")})
		require.NoError(t, err)
		ev, ok = nextEvent(t, es)
		require.True(t, ok)
		assert.Empty(t, ev.Records)
		assert.Nil(t, ev.ContinuationSequenceNumber, "nil at the shard's end")
		require.Len(t, ev.ChildShards, 2)
		assert.Equal(t, "shardId-000000000001", aws.ToString(ev.ChildShards[0].ShardId))
		assert.Equal(t, []string{"shardId-000000000000"}, ev.ChildShards[0].ParentShards)
		_, ok = nextEvent(t, es)
		assert.False(t, ok, "the stream ends after the ChildShards event")

		// The shard is free again: resubscribing from the continuation works.
		es = subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber,
			SequenceNumber: put.Records[2].SequenceNumber})
		ev, ok = nextEvent(t, es)
		require.True(t, ok)
		assert.Len(t, ev.Records, 2)
		assert.Len(t, ev.ChildShards, 2)
	})
}

// A subscription lasts 5 minutes, with a heartbeat event every 5 seconds of
// silence, and ends cleanly.
func TestSubscriptionEndsAfterFiveMinutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t)
		require.NoError(t, srv.CreateStream("s", 1))
		c := noRetry(srv)
		arn := register(t, c, "s", "app")
		start := time.Now()
		es := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		events := 0
		for {
			ev, ok := nextEvent(t, es)
			if !ok {
				break
			}
			events++
			require.NotNil(t, ev.ContinuationSequenceNumber)
		}
		assert.Equal(t, kinesistest.DefaultSubscriptionDuration, time.Since(start))
		assert.Equal(t, 1+int(kinesistest.DefaultSubscriptionDuration/kinesistest.SubscriptionHeartbeat)-1, events, "the first event, then one per heartbeat")
	})
}

// Options.SubscriptionDuration shortens subscriptions.
func TestSubscriptionDurationOption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) { o.SubscriptionDuration = 50 * time.Millisecond })
		require.NoError(t, srv.CreateStream("s", 1))
		c := noRetry(srv)
		arn := register(t, c, "s", "app")
		start := time.Now()
		es := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeLatest})
		events := 0
		for {
			if _, ok := nextEvent(t, es); !ok {
				break
			}
			events++
		}
		assert.Equal(t, 50*time.Millisecond, time.Since(start))
		assert.Equal(t, 1, events)
	})
}

// Fan-out reads are paced to 2 MiB per second per consumer and shard; two
// consumers each get their own 2 MiB.
func TestFanOutLimitPacesEachConsumer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := kinesistest.NewServer(t, func(o *kinesistest.Options) {
			o.Limits = &kinesistest.Limits{RecordsPerSecond: -1, BytesPerSecond: -1}
		})
		require.NoError(t, srv.CreateStream("s", 1))
		c, ctx := noRetry(srv), context.Background()
		for range 6 { // 6 MiB
			_, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: records(4, 256<<10)})
			require.NoError(t, err)
		}
		read := func(name string, done chan<- time.Duration) {
			arn := register(t, c, "s", name)
			es := subscribe(t, c, arn, "shardId-000000000000", types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon})
			start, n := time.Now(), 0
			for n < 24 {
				ev, ok := nextEvent(t, es)
				require.True(t, ok)
				n += len(ev.Records)
			}
			done <- time.Since(start)
		}
		done := make(chan time.Duration, 2)
		go read("a", done)
		go read("b", done)
		for range 2 {
			// 6 MiB with a 2 MiB bucket at 2 MiB/s: the last MiB arrives after 2 s.
			d := <-done
			assert.GreaterOrEqual(t, d, 2*time.Second-200*time.Millisecond)
			assert.Less(t, d, 3*time.Second)
		}
	})
}

func TestStreamConsumerRegistry(t *testing.T) {
	srv := kinesistest.NewServer(t)
	require.NoError(t, srv.CreateStream("s", 1))
	c, ctx := noRetry(srv), context.Background()
	arn := streamARN(t, c, "s")
	for _, n := range []string{"b", "a"} {
		register(t, c, "s", n)
	}
	_, err := c.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("a")})
	var inUse *types.ResourceInUseException
	require.ErrorAs(t, err, &inUse)

	list, err := c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: arn, MaxResults: aws.Int32(1)})
	require.NoError(t, err)
	require.Len(t, list.Consumers, 1)
	assert.Equal(t, "a", aws.ToString(list.Consumers[0].ConsumerName))
	list, err = c.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: arn, NextToken: list.NextToken})
	require.NoError(t, err)
	require.Len(t, list.Consumers, 1)
	assert.Equal(t, "b", aws.ToString(list.Consumers[0].ConsumerName))
	assert.Nil(t, list.NextToken)

	_, err = c.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("a")})
	require.NoError(t, err)
	_, err = c.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: arn, ConsumerName: aws.String("a")})
	var nf *types.ResourceNotFoundException
	require.ErrorAs(t, err, &nf)
}
