package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bothWays runs fn against the fake called directly and through Handler with a
// real SDK client.
func bothWays(t *testing.T, shards int, fn func(t *testing.T, k *Kinesis, c api, clk *clock)) {
	t.Run("direct", func(t *testing.T) {
		k, clk := newFake(t, shards)
		fn(t, k, k, clk)
	})
	t.Run("http", func(t *testing.T) {
		k, clk := newFake(t, shards)
		fn(t, k, httpClient(t, k), clk)
	})
}

func TestCreateStreamHasEvenRangesLikeAWS(t *testing.T) {
	bothWays(t, 0, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		createStream(t, c, "s3", 3)
		shards := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s3")})
		require.Len(t, shards, 3)
		space := new(big.Int).Lsh(big.NewInt(1), 128)
		step := new(big.Int).Div(space, big.NewInt(3))
		for i, s := range shards {
			assert.Equal(t, fmt.Sprintf("shardId-%012d", i), aws.ToString(s.ShardId))
			start := new(big.Int).Mul(step, big.NewInt(int64(i)))
			end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
			if i == 2 {
				end = new(big.Int).Sub(space, big.NewInt(1))
			}
			assert.Equal(t, start.String(), aws.ToString(s.HashKeyRange.StartingHashKey))
			assert.Equal(t, end.String(), aws.ToString(s.HashKeyRange.EndingHashKey))
			assert.Nil(t, s.ParentShardId)
			assert.NotNil(t, s.SequenceNumberRange.StartingSequenceNumber)
			assert.Nil(t, s.SequenceNumberRange.EndingSequenceNumber)
		}
		// AWS's published ranges for a 2-shard stream.
		createStream(t, c, "s2", 2)
		shards = listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s2")})
		assert.Equal(t, "170141183460469231731687303715884105727", aws.ToString(shards[0].HashKeyRange.EndingHashKey))
		assert.Equal(t, "170141183460469231731687303715884105728", aws.ToString(shards[1].HashKeyRange.StartingHashKey))

		sum, err := c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s3")})
		require.NoError(t, err)
		d := sum.StreamDescriptionSummary
		assert.Equal(t, types.StreamStatusActive, d.StreamStatus)
		assert.Equal(t, int32(3), aws.ToInt32(d.OpenShardCount))
		assert.Equal(t, "arn:aws:kinesis:us-east-1:000000000000:stream/s3", aws.ToString(d.StreamARN))
		assert.Equal(t, int32(1024), aws.ToInt32(d.MaxRecordSizeInKiB))
		assert.Equal(t, types.StreamModeProvisioned, d.StreamModeDetails.StreamMode)
		assert.False(t, d.StreamCreationTimestamp.IsZero())

		// By ARN too.
		_, err = c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamARN: d.StreamARN})
		require.NoError(t, err)

		_, err = c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s3"), ShardCount: aws.Int32(1)})
		var inUse *types.ResourceInUseException
		require.ErrorAs(t, err, &inUse)

		_, err = c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("od"),
			StreamModeDetails: &types.StreamModeDetails{StreamMode: types.StreamModeOnDemand}})
		require.NoError(t, err)
		assert.Len(t, openShards(t, c, "od"), DefaultOnDemandShardCount)

		_, err = c.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("noshards")})
		var inv *types.InvalidArgumentException
		require.ErrorAs(t, err, &inv)
	})
}

func TestPutRecordsRoutesByMD5OfPartitionKey(t *testing.T) {
	bothWays(t, 7, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		shards := openShards(t, c, "s")
		rng := rand.New(rand.NewPCG(1, 2))
		var entries []types.PutRecordsRequestEntry
		for i := range 500 {
			pk := strconv.FormatUint(rng.Uint64(), 36)
			if i%50 == 0 {
				pk = strings.Repeat("é", 128) // 256 characters, 512 bytes
			}
			entries = append(entries, entry(pk, "d"+strconv.Itoa(i)))
		}
		out := put(t, c, "s", entries...)
		perShard := map[string][]string{}
		for i, r := range out.Records {
			want := expectedShard(t, shards, md5Key(aws.ToString(entries[i].PartitionKey)))
			assert.Equal(t, want, aws.ToString(r.ShardId), "entry %d", i)
			perShard[want] = append(perShard[want], string(entries[i].Data))
		}
		assert.Len(t, perShard, 7, "500 random keys reach every shard")
		for id, datas := range perShard {
			stored := k.Records("s", id)
			require.Len(t, stored, len(datas))
			for i, r := range stored {
				assert.Equal(t, datas[i], string(r.Data), "order in %s", id)
			}
		}
	})
}

func TestPutRecordsRoutesByExplicitHashKey(t *testing.T) {
	bothWays(t, 4, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		shards := openShards(t, c, "s")
		var entries []types.PutRecordsRequestEntry
		var want []string
		for _, s := range shards {
			for _, key := range []string{aws.ToString(s.HashKeyRange.StartingHashKey), aws.ToString(s.HashKeyRange.EndingHashKey)} {
				e := entry("same-key", key)
				e.ExplicitHashKey = aws.String(key)
				entries = append(entries, e)
				want = append(want, aws.ToString(s.ShardId))
			}
		}
		out := put(t, c, "s", entries...)
		for i, r := range out.Records {
			assert.Equal(t, want[i], aws.ToString(r.ShardId), "EHK %s", aws.ToString(entries[i].ExplicitHashKey))
		}
		// PutRecord takes the same route.
		pr, err := k.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String("s"),
			PartitionKey: aws.String("x"), ExplicitHashKey: aws.String("0"), Data: []byte("y")})
		require.NoError(t, err)
		assert.Equal(t, "shardId-000000000000", aws.ToString(pr.ShardId))
	})
}

func TestSequenceNumbersIncreasePerShardAndAreUnique(t *testing.T) {
	bothWays(t, 3, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		shards := openShards(t, c, "s")
		seen := map[string]bool{}
		last := map[string]*big.Int{}
		for _, s := range shards {
			last[aws.ToString(s.ShardId)] = seqInt(t, s.SequenceNumberRange.StartingSequenceNumber)
		}
		for b := range 5 {
			var entries []types.PutRecordsRequestEntry
			for i := range 100 {
				entries = append(entries, entry(fmt.Sprintf("k%d-%d", b, i), "x"))
			}
			for _, r := range put(t, c, "s", entries...).Records {
				sn := aws.ToString(r.SequenceNumber)
				assert.Len(t, sn, 56)
				assert.False(t, seen[sn], "duplicate %s", sn)
				seen[sn] = true
				v := seqInt(t, r.SequenceNumber)
				id := aws.ToString(r.ShardId)
				assert.Equal(t, 1, v.Cmp(last[id]), "sequence numbers increase in %s", id)
				last[id] = v
			}
		}
		// GetRecords returns the same numbers in the same order.
		for _, s := range shards {
			recs, _ := readShard(t, c, iter(t, c, "s", aws.ToString(s.ShardId), types.ShardIteratorTypeTrimHorizon), 0)
			stored := k.Records("s", aws.ToString(s.ShardId))
			require.Len(t, recs, len(stored))
			for i := range recs {
				assert.Equal(t, aws.ToString(stored[i].SequenceNumber), aws.ToString(recs[i].SequenceNumber))
				assert.True(t, seen[aws.ToString(recs[i].SequenceNumber)])
			}
		}
	})
}

func seqs(recs []types.Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, aws.ToString(r.SequenceNumber))
	}
	return out
}

func TestIteratorTypes(t *testing.T) {
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, clk *clock) {
		const sh = "shardId-000000000000"
		latest := iter(t, c, "s", sh, types.ShardIteratorTypeLatest)
		first := put(t, c, "s", entry("a", "1"), entry("b", "2"), entry("c", "3"))
		clk.Advance(time.Second)
		mid := clk.Now()
		second := put(t, c, "s", entry("d", "4"), entry("e", "5"))
		all := append(seqs(nil), aws.ToString(first.Records[0].SequenceNumber), aws.ToString(first.Records[1].SequenceNumber),
			aws.ToString(first.Records[2].SequenceNumber), aws.ToString(second.Records[0].SequenceNumber), aws.ToString(second.Records[1].SequenceNumber))

		read := func(it string) []string {
			recs, _ := readShard(t, c, it, 0)
			return seqs(recs)
		}
		assert.Equal(t, all, read(iter(t, c, "s", sh, types.ShardIteratorTypeTrimHorizon)), "TRIM_HORIZON")
		assert.Equal(t, all, read(latest), "LATEST taken before the puts")
		assert.Empty(t, read(iter(t, c, "s", sh, types.ShardIteratorTypeLatest)), "LATEST after the puts")
		assert.Equal(t, all[2:], read(iter(t, c, "s", sh, types.ShardIteratorTypeAtSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
			in.StartingSequenceNumber = aws.String(all[2])
		})), "AT_SEQUENCE_NUMBER")
		assert.Equal(t, all[3:], read(iter(t, c, "s", sh, types.ShardIteratorTypeAfterSequenceNumber, func(in *kinesis.GetShardIteratorInput) {
			in.StartingSequenceNumber = aws.String(all[2])
		})), "AFTER_SEQUENCE_NUMBER")
		assert.Equal(t, all[3:], read(iter(t, c, "s", sh, types.ShardIteratorTypeAtTimestamp, func(in *kinesis.GetShardIteratorInput) {
			in.Timestamp = aws.Time(mid)
		})), "AT_TIMESTAMP")
		assert.Equal(t, all, read(iter(t, c, "s", sh, types.ShardIteratorTypeAtTimestamp, func(in *kinesis.GetShardIteratorInput) {
			in.Timestamp = aws.Time(mid.Add(-time.Hour))
		})), "AT_TIMESTAMP before everything")
		future := iter(t, c, "s", sh, types.ShardIteratorTypeAtTimestamp, func(in *kinesis.GetShardIteratorInput) {
			in.Timestamp = aws.Time(mid.Add(time.Minute))
		})
		assert.Empty(t, read(future), "AT_TIMESTAMP after everything")

		// The arrival timestamps come from the clock, at millisecond precision.
		recs, _ := readShard(t, c, iter(t, c, "s", sh, types.ShardIteratorTypeTrimHorizon), 0)
		assert.True(t, recs[0].ApproximateArrivalTimestamp.Equal(mid.Add(-time.Second)), "got %v", recs[0].ApproximateArrivalTimestamp)
		assert.True(t, recs[4].ApproximateArrivalTimestamp.Equal(mid))
		assert.Equal(t, "d", aws.ToString(recs[3].PartitionKey))
		assert.Equal(t, "4", string(recs[3].Data))
	})
}

func TestSequenceNumberFromAnotherShardIsRejected(t *testing.T) {
	bothWays(t, 2, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		e := entry("x", "y")
		e.ExplicitHashKey = aws.String("0")
		out := put(t, c, "s", e)
		require.Equal(t, "shardId-000000000000", aws.ToString(out.Records[0].ShardId))
		_, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000001"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber,
			StartingSequenceNumber: out.Records[0].SequenceNumber})
		var inv *types.InvalidArgumentException
		require.ErrorAs(t, err, &inv)
		_, err = c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtSequenceNumber,
			StartingSequenceNumber: aws.String("12345")})
		require.ErrorAs(t, err, &inv)
	})
}

func TestGetRecordsPagesByLimitAndReportsLag(t *testing.T) {
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, clk *clock) {
		for i := range 10 {
			put(t, c, "s", entry("k", strconv.Itoa(i)))
			clk.Advance(time.Second)
		}
		// Now is 10s after the first record arrived.
		it := iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
		var got []string
		var lags []int64
		for range 4 {
			out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it), Limit: aws.Int32(3)})
			require.NoError(t, err)
			for _, r := range out.Records {
				got = append(got, string(r.Data))
			}
			lags = append(lags, aws.ToInt64(out.MillisBehindLatest))
			require.NotNil(t, out.NextShardIterator, "an open shard never ends")
			it = aws.ToString(out.NextShardIterator)
		}
		assert.Equal(t, []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}, got)
		// After each page the oldest unread record is 7s, 4s, 1s old, then caught up.
		assert.Equal(t, []int64{7000, 4000, 1000, 0}, lags)

		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.NoError(t, err)
		assert.Empty(t, out.Records)
		assert.NotNil(t, out.NextShardIterator)
	})
}

func TestGetRecordsCapsBytesPerCall(t *testing.T) {
	k, _ := newFake(t, 1, func(o *Options) { o.MaxGetRecordsSize = 250 })
	for i := range 5 {
		put(t, k, "s", entry("k", strings.Repeat(strconv.Itoa(i), 100)))
	}
	it := iter(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
	var sizes []int
	for range 3 {
		out, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.NoError(t, err)
		sizes = append(sizes, len(out.Records))
		it = aws.ToString(out.NextShardIterator)
	}
	assert.Equal(t, []int{2, 2, 1}, sizes)

	// A record larger than the cap still comes alone.
	put(t, k, "s", entry("k", strings.Repeat("x", 300)))
	out, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
	require.NoError(t, err)
	assert.Len(t, out.Records, 1)
}

func TestIteratorsExpireAfterFiveMinutes(t *testing.T) {
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, clk *clock) {
		it := iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
		clk.Advance(5 * time.Minute)
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.NoError(t, err, "valid for exactly 5 minutes")
		clk.Advance(5*time.Minute + time.Millisecond)
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		var exp *types.ExpiredIteratorException
		require.ErrorAs(t, err, &exp)
		// The iterator returned by the successful call is as old.
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: out.NextShardIterator})
		require.ErrorAs(t, err, &exp)
		// A fresh one works.
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeLatest))})
		require.NoError(t, err)
	})
}

func TestListShardsPaging(t *testing.T) {
	bothWays(t, 25, func(t *testing.T, k *Kinesis, c api, clk *clock) {
		ctx := context.Background()
		var ids []string
		var pages int
		in := &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(10)}
		for {
			out, err := c.ListShards(ctx, in)
			require.NoError(t, err)
			pages++
			for _, s := range out.Shards {
				ids = append(ids, aws.ToString(s.ShardId))
			}
			if out.NextToken == nil {
				break
			}
			in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(10)}
		}
		assert.Equal(t, 3, pages)
		require.Len(t, ids, 25)
		for i, id := range ids {
			assert.Equal(t, fmt.Sprintf("shardId-%012d", i), id)
		}

		out, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(5),
			ExclusiveStartShardId: aws.String("shardId-000000000020")})
		require.NoError(t, err)
		assert.Len(t, out.Shards, 4)
		assert.Nil(t, out.NextToken)

		first, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), MaxResults: aws.Int32(5)})
		require.NoError(t, err)
		var inv *types.InvalidArgumentException
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s"), NextToken: first.NextToken})
		require.ErrorAs(t, err, &inv, "NextToken with StreamName")
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: aws.String("garbage")})
		require.ErrorAs(t, err, &inv)
		clk.Advance(DefaultIteratorTTL + time.Millisecond)
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{NextToken: first.NextToken})
		var exp *types.ExpiredNextTokenException
		require.ErrorAs(t, err, &exp)
	})
}

func ids(shards []types.Shard) []string {
	var out []string
	for _, s := range shards {
		out = append(out, aws.ToString(s.ShardId))
	}
	return out
}

func TestListShardsFilters(t *testing.T) {
	bothWays(t, 2, func(t *testing.T, k *Kinesis, c api, clk *clock) {
		ctx := context.Background()
		clk.Advance(time.Minute)
		beforeSplit := clk.Now()
		clk.Advance(time.Minute)
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000000"),
			NewStartingHashKey: aws.String("1000")})
		require.NoError(t, err)
		clk.Advance(time.Minute)
		afterSplit := clk.Now()

		list := func(f *types.ShardFilter) []string {
			return ids(listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s"), ShardFilter: f}))
		}
		const s0, s1, s2, s3 = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002", "shardId-000000000003"
		assert.Equal(t, []string{s0, s1, s2, s3}, list(nil))
		assert.Equal(t, []string{s1, s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeAtLatest}))
		assert.Equal(t, []string{s0, s1}, list(&types.ShardFilter{Type: types.ShardFilterTypeAtTrimHorizon}))
		assert.Equal(t, []string{s0, s1, s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeFromTrimHorizon}))
		assert.Equal(t, []string{s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeAfterShardId, ShardId: aws.String(s1)}))
		assert.Equal(t, []string{s0, s1}, list(&types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(beforeSplit)}))
		assert.Equal(t, []string{s1, s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeAtTimestamp, Timestamp: aws.Time(afterSplit)}))
		assert.Equal(t, []string{s0, s1, s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(beforeSplit)}))
		assert.Equal(t, []string{s1, s2, s3}, list(&types.ShardFilter{Type: types.ShardFilterTypeFromTimestamp, Timestamp: aws.Time(afterSplit)}))

		arn := "arn:aws:kinesis:us-east-1:000000000000:stream/s"
		byARN, err := c.ListShards(ctx, &kinesis.ListShardsInput{StreamARN: aws.String(arn)})
		require.NoError(t, err)
		assert.Len(t, byARN.Shards, 4)
	})
}

func TestSplitShardClosesParentAndReportsChildren(t *testing.T) {
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		ctx := context.Background()
		const parent = "shardId-000000000000"
		put(t, c, "s", entry("before-1", "b1"), entry("before-2", "b2"))
		it := iter(t, c, "s", parent, types.ShardIteratorTypeTrimHorizon)
		half := new(big.Int).Lsh(big.NewInt(1), 127)
		_, err := c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(parent),
			NewStartingHashKey: aws.String(half.String())})
		require.NoError(t, err)

		all := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		require.Len(t, all, 3)
		assert.NotNil(t, all[0].SequenceNumberRange.EndingSequenceNumber, "parent closed")
		low, high := all[1], all[2]
		for _, ch := range []types.Shard{low, high} {
			assert.Equal(t, parent, aws.ToString(ch.ParentShardId))
			assert.Nil(t, ch.AdjacentParentShardId)
			assert.Nil(t, ch.SequenceNumberRange.EndingSequenceNumber, "child open")
			assert.Equal(t, 1, seqInt(t, ch.SequenceNumberRange.StartingSequenceNumber).Cmp(seqInt(t, all[0].SequenceNumberRange.EndingSequenceNumber)))
		}
		assert.Equal(t, "0", aws.ToString(low.HashKeyRange.StartingHashKey))
		assert.Equal(t, new(big.Int).Sub(half, big.NewInt(1)).String(), aws.ToString(low.HashKeyRange.EndingHashKey))
		assert.Equal(t, half.String(), aws.ToString(high.HashKeyRange.StartingHashKey))
		assert.Equal(t, ids(all[1:]), ids(openShards(t, c, "s")))

		// New records go to the children.
		out := put(t, c, "s", entry("after", "a"))
		assert.Equal(t, expectedShard(t, all[1:], md5Key("after")), aws.ToString(out.Records[0].ShardId))

		// Reading the parent returns its records, then ends with the children.
		recs, children := readShard(t, c, it, 1)
		assert.Equal(t, []string{"b1", "b2"}, []string{string(recs[0].Data), string(recs[1].Data)})
		require.Len(t, children, 2)
		for i, ch := range children {
			assert.Equal(t, aws.ToString(all[1+i].ShardId), aws.ToString(ch.ShardId))
			assert.Equal(t, []string{parent}, ch.ParentShards)
			assert.Equal(t, aws.ToString(all[1+i].HashKeyRange.StartingHashKey), aws.ToString(ch.HashKeyRange.StartingHashKey))
			assert.Equal(t, aws.ToString(all[1+i].HashKeyRange.EndingHashKey), aws.ToString(ch.HashKeyRange.EndingHashKey))
		}

		// LATEST on a closed shard ends at once.
		recs, children = readShard(t, c, iter(t, c, "s", parent, types.ShardIteratorTypeLatest), 0)
		assert.Empty(t, recs)
		assert.Len(t, children, 2)

		var inv *types.InvalidArgumentException
		_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String(parent),
			NewStartingHashKey: aws.String("5")})
		require.ErrorAs(t, err, &inv, "closed shard")
		_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: low.ShardId,
			NewStartingHashKey: aws.String("0")})
		require.ErrorAs(t, err, &inv, "key at the shard's start")
		var nf *types.ResourceNotFoundException
		_, err = c.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String("s"), ShardToSplit: aws.String("shardId-000000000099"),
			NewStartingHashKey: aws.String("5")})
		require.ErrorAs(t, err, &nf)
	})
}

func TestMergeShards(t *testing.T) {
	bothWays(t, 3, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		ctx := context.Background()
		const s0, s1, s2 = "shardId-000000000000", "shardId-000000000001", "shardId-000000000002"
		var inv *types.InvalidArgumentException
		_, err := c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(s0), AdjacentShardToMerge: aws.String(s2)})
		require.ErrorAs(t, err, &inv, "not adjacent")

		e := entry("x", "in-s2")
		e.ExplicitHashKey = aws.String(new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1)).String())
		put(t, c, "s", e)
		_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(s2), AdjacentShardToMerge: aws.String(s1)})
		require.NoError(t, err)

		open := openShards(t, c, "s")
		require.Equal(t, []string{s0, "shardId-000000000003"}, ids(open))
		merged := open[1]
		assert.Equal(t, s2, aws.ToString(merged.ParentShardId))
		assert.Equal(t, s1, aws.ToString(merged.AdjacentParentShardId))
		all := listAll(t, c, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		assert.Equal(t, aws.ToString(all[1].HashKeyRange.StartingHashKey), aws.ToString(merged.HashKeyRange.StartingHashKey))
		assert.Equal(t, aws.ToString(all[2].HashKeyRange.EndingHashKey), aws.ToString(merged.HashKeyRange.EndingHashKey))

		for _, p := range []string{s1, s2} {
			recs, children := readShard(t, c, iter(t, c, "s", p, types.ShardIteratorTypeTrimHorizon), 0)
			if p == s2 {
				require.Len(t, recs, 1)
			}
			require.Len(t, children, 1, p)
			assert.Equal(t, "shardId-000000000003", aws.ToString(children[0].ShardId))
			assert.Equal(t, []string{s1, s2}, children[0].ParentShards, "in shard ID order")
		}
		_, err = c.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String("s"), ShardToMerge: aws.String(s1), AdjacentShardToMerge: aws.String(s0)})
		require.ErrorAs(t, err, &inv, "closed shard")
	})
}

func TestUpdateShardCount(t *testing.T) {
	k, _ := newFake(t, 4)
	ctx := context.Background()
	for _, target := range []int{8, 6, 3, 5, 7, 4, 2, 1, 2} {
		out, err := k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"),
			TargetShardCount: aws.Int32(int32(target)), ScalingType: types.ScalingTypeUniformScaling})
		require.NoError(t, err, "to %d", target)
		assert.Equal(t, int32(target), aws.ToInt32(out.TargetShardCount))

		open := openShards(t, k, "s")
		require.Len(t, open, target)
		sort.Slice(open, func(i, j int) bool {
			return seqInt(t, open[i].HashKeyRange.StartingHashKey).Cmp(seqInt(t, open[j].HashKeyRange.StartingHashKey)) < 0
		})
		for i, r := range evenRanges(target) {
			assert.Equal(t, r.Start.String(), aws.ToString(open[i].HashKeyRange.StartingHashKey), "target %d shard %d", target, i)
			assert.Equal(t, r.End.String(), aws.ToString(open[i].HashKeyRange.EndingHashKey))
		}
		checkLineage(t, k)
	}
	var le *types.LimitExceededException
	_, err := k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"),
		TargetShardCount: aws.Int32(5), ScalingType: types.ScalingTypeUniformScaling})
	require.ErrorAs(t, err, &le, "more than double")
	_, err = k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String("s"), TargetShardCount: aws.Int32(2)})
	var ve *types.ValidationException
	require.ErrorAs(t, err, &ve, "missing scaling type")
}

// checkLineage verifies the shard graph: a closed shard's children are what
// GetRecords reports at its end, cover exactly its hash range together with
// their other parents, and every shard has at most two parents, all closed.
func checkLineage(t *testing.T, k *Kinesis) {
	t.Helper()
	all := k.Shards("s")
	byID := map[string]types.Shard{}
	for _, s := range all {
		byID[aws.ToString(s.ShardId)] = s
	}
	for _, s := range all {
		for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
			if p != nil {
				require.NotNil(t, byID[*p].SequenceNumberRange.EndingSequenceNumber, "parent %s of %s is closed", *p, aws.ToString(s.ShardId))
			}
		}
		if s.SequenceNumberRange.EndingSequenceNumber == nil {
			continue
		}
		_, children := readShard(t, k, iter(t, k, "s", aws.ToString(s.ShardId), types.ShardIteratorTypeTrimHorizon), 0)
		require.NotEmpty(t, children, "closed shard %s has children", aws.ToString(s.ShardId))
		for _, ch := range children {
			cs := byID[aws.ToString(ch.ShardId)]
			assert.Contains(t, ch.ParentShards, aws.ToString(s.ShardId))
			want := []string{aws.ToString(cs.ParentShardId)}
			if cs.AdjacentParentShardId != nil {
				want = append(want, *cs.AdjacentParentShardId)
			}
			assert.ElementsMatch(t, want, ch.ParentShards)
		}
	}
}

func TestValidationErrorsHaveSDKTypes(t *testing.T) {
	big1 := strings.Repeat("x", DefaultMaxRecordSize-1)
	entries := func(n int) []types.PutRecordsRequestEntry {
		out := make([]types.PutRecordsRequestEntry, n)
		for i := range out {
			out[i] = entry("k", "d")
		}
		return out
	}
	withEHK := func(ehk string) []types.PutRecordsRequestEntry {
		e := entry("k", "d")
		e.ExplicitHashKey = aws.String(ehk)
		return []types.PutRecordsRequestEntry{e}
	}
	tests := []struct {
		name    string
		stream  string
		entries []types.PutRecordsRequestEntry
		code    string
	}{
		{"501 entries", "s", entries(501), "ValidationException"},
		{"no entries", "s", nil, "ValidationException"},
		{"empty partition key", "s", []types.PutRecordsRequestEntry{entry("", "d")}, "ValidationException"},
		{"partition key of 257 characters", "s", []types.PutRecordsRequestEntry{entry(strings.Repeat("é", 257), "d")}, "ValidationException"},
		{"data plus key over 1 MiB", "s", []types.PutRecordsRequestEntry{entry("kk", big1)}, "ValidationException"},
		{"hash key with leading zero", "s", withEHK("01"), "ValidationException"},
		{"hash key not a number", "s", withEHK("-1"), "ValidationException"},
		{"hash key above 2^128-1", "s", withEHK("340282366920938463463374607431768211456"), "InvalidArgumentException"},
		{"call over 5 MiB", "s", func() []types.PutRecordsRequestEntry {
			out := make([]types.PutRecordsRequestEntry, 6)
			for i := range out {
				out[i] = entry("k", big1)
			}
			return out
		}(), "InvalidArgumentException"},
		{"missing stream", "nope", entries(1), "ResourceNotFoundException"},
	}
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		for _, tt := range tests {
			if tt.entries == nil && c != api(k) {
				continue // the SDK client rejects it before sending
			}
			_, err := c.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(tt.stream), Records: tt.entries})
			var ae smithy.APIError
			if !assert.ErrorAs(t, err, &ae, tt.name) {
				continue
			}
			assert.Equal(t, tt.code, ae.ErrorCode(), tt.name)
			assert.NotEmpty(t, ae.ErrorMessage(), tt.name)
			switch tt.code {
			case "ValidationException":
				var v *types.ValidationException
				assert.ErrorAs(t, err, &v, tt.name)
			case "InvalidArgumentException":
				var v *types.InvalidArgumentException
				assert.ErrorAs(t, err, &v, tt.name)
			case "ResourceNotFoundException":
				var v *types.ResourceNotFoundException
				assert.ErrorAs(t, err, &v, tt.name)
			}
		}
		assert.Empty(t, k.Records("s", "shardId-000000000000"), "nothing stored by failed calls")

		// The largest records AWS takes pass.
		put(t, c, "s", entry("k", big1), entry(strings.Repeat("é", 256), "d"))

		var nf *types.ResourceNotFoundException
		_, err := c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000007"), ShardIteratorType: types.ShardIteratorTypeLatest})
		assert.ErrorAs(t, err, &nf)
		var inv *types.InvalidArgumentException
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String("AAAA")})
		assert.ErrorAs(t, err, &inv)
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeLatest)),
			Limit: aws.Int32(10001)})
		assert.ErrorAs(t, err, &inv)
		_, err = c.GetShardIterator(context.Background(), &kinesis.GetShardIteratorInput{StreamName: aws.String("s"),
			ShardId: aws.String("shardId-000000000000"), ShardIteratorType: types.ShardIteratorTypeAtTimestamp})
		assert.ErrorAs(t, err, &inv, "AT_TIMESTAMP without Timestamp")
	})
}

func TestStreamSizeLimitFollowsMaxRecordSizeInKiB(t *testing.T) {
	k, _ := newFake(t, 0)
	_, err := k.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("big"), ShardCount: aws.Int32(1),
		MaxRecordSizeInKiB: aws.Int32(2048)})
	require.NoError(t, err)
	sum, err := k.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("big")})
	require.NoError(t, err)
	assert.Equal(t, int32(2048), aws.ToInt32(sum.StreamDescriptionSummary.MaxRecordSizeInKiB))
	put(t, k, "big", entry("k", strings.Repeat("x", 2<<20-1)))
	_, err = k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("big"),
		Records: []types.PutRecordsRequestEntry{entry("kk", strings.Repeat("x", 2<<20-1))}})
	var ve *types.ValidationException
	require.ErrorAs(t, err, &ve)
}

func TestControlsInjectFailures(t *testing.T) {
	bothWays(t, 2, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		ctx := context.Background()
		remove := k.Control(OpPutRecords, func(call *Call) (any, error, bool) {
			call.KeepControl()
			if len(call.Input.(*kinesis.PutRecordsInput).Records) == 1 {
				return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}, true
			}
			call.FailRecord(1, "ProvisionedThroughputExceededException")
			call.FailRecord(3, "InternalFailure")
			return nil, nil, false
		})
		out, err := c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"),
			Records: []types.PutRecordsRequestEntry{entry("a", "0"), entry("b", "1"), entry("c", "2"), entry("d", "3")}})
		require.NoError(t, err)
		assert.Equal(t, int32(2), aws.ToInt32(out.FailedRecordCount))
		assert.Nil(t, out.Records[0].ErrorCode)
		assert.NotNil(t, out.Records[0].SequenceNumber)
		assert.Equal(t, "ProvisionedThroughputExceededException", aws.ToString(out.Records[1].ErrorCode))
		assert.Contains(t, aws.ToString(out.Records[1].ErrorMessage), "Rate exceeded for shard")
		assert.Nil(t, out.Records[1].SequenceNumber)
		assert.Nil(t, out.Records[1].ShardId)
		assert.Equal(t, "InternalFailure", aws.ToString(out.Records[3].ErrorCode))

		var stored []string
		for _, s := range k.Shards("s") {
			for _, r := range k.Records("s", aws.ToString(s.ShardId)) {
				stored = append(stored, string(r.Data))
			}
		}
		assert.ElementsMatch(t, []string{"0", "2"}, stored)

		_, err = c.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{entry("a", "x")}})
		var pt *types.ProvisionedThroughputExceededException
		require.ErrorAs(t, err, &pt)
		remove()
		put(t, c, "s", entry("a", "x"))

		// A one-shot control handles one call and is gone.
		k.Control(OpGetRecords, func(*Call) (any, error, bool) {
			return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("read limit")}, true
		})
		it := iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.ErrorAs(t, err, &pt)
		_, err = c.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.NoError(t, err, "the iterator survives an injected error")

		k.Control(OpAny, func(call *Call) (any, error, bool) {
			if call.Op == OpListShards {
				return nil, &types.LimitExceededException{Message: aws.String("too many ListShards")}, true
			}
			return nil, nil, false
		})
		_, err = c.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String("s")})
		var le *types.LimitExceededException
		require.ErrorAs(t, err, &le)

		st := k.Stats()
		assert.Equal(t, int64(3), st.Calls[OpPutRecords])
		assert.Equal(t, int64(2), st.Calls[OpGetRecords])
		assert.Equal(t, int64(1), st.Calls[OpListShards])
		assert.Equal(t, int64(3), st.RecordsPut)
		assert.Equal(t, int64(3), st.BytesPut)
		assert.Equal(t, int64(2), st.RecordsFailed)
		assert.Equal(t, int64(len(k.Records("s", "shardId-000000000000"))), st.RecordsRead, "the records in shard 0")
	})
}

func TestDiscardDataKeepsNothingButAnswersNormally(t *testing.T) {
	k, _ := newFake(t, 2, func(o *Options) { o.DiscardData = true })
	out := put(t, k, "s", entry("a", "1"), entry("b", "2"))
	assert.NotNil(t, out.Records[0].SequenceNumber)
	for _, s := range k.Shards("s") {
		assert.Empty(t, k.Records("s", aws.ToString(s.ShardId)))
	}
	assert.Equal(t, int64(2), k.Stats().RecordsPut)
}

func TestDeleteStream(t *testing.T) {
	bothWays(t, 1, func(t *testing.T, k *Kinesis, c api, _ *clock) {
		it := iter(t, c, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
		_, err := k.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String("s")})
		require.NoError(t, err)
		var nf *types.ResourceNotFoundException
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.ErrorAs(t, err, &nf)
		createStream(t, c, "s", 1)
		_, err = c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		require.ErrorAs(t, err, &nf, "an iterator of the deleted stream does not read the new one")
		_, err = c.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("other")})
		require.ErrorAs(t, err, &nf)
	})
}

func TestCanceledContextFails(t *testing.T) {
	k, _ := newFake(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := k.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{entry("a", "b")}})
	require.True(t, errors.Is(err, context.Canceled))
}

func TestConcurrentWritersAndReaders(t *testing.T) {
	k, _ := newFake(t, 4)
	const writers, batches = 4, 50
	done := make(chan struct{})
	errs := make(chan error, writers+1)
	for w := range writers {
		go func() {
			for b := range batches {
				var entries []types.PutRecordsRequestEntry
				for i := range 20 {
					entries = append(entries, entry(fmt.Sprintf("%d-%d-%d", w, b, i), "x"))
				}
				if _, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		defer close(done)
		it := iter(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
		var last *big.Int
		for range 200 {
			out, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
			if err != nil {
				errs <- err
				return
			}
			for _, r := range out.Records {
				v, _ := new(big.Int).SetString(aws.ToString(r.SequenceNumber), 10)
				if last != nil && v.Cmp(last) <= 0 {
					errs <- fmt.Errorf("sequence numbers out of order: %s after %s", v, last)
					return
				}
				last = v
			}
			it = aws.ToString(out.NextShardIterator)
		}
	}()
	for range writers {
		require.NoError(t, <-errs)
	}
	<-done
	select {
	case err := <-errs:
		require.NoError(t, err)
	default:
	}
	total := 0
	for _, s := range k.Shards("s") {
		total += len(k.Records("s", aws.ToString(s.ShardId)))
	}
	assert.Equal(t, writers*batches*20, total)
}

// recordingTransport records the requests it is given.
type recordingTransport struct{ bodies []any }

func (r *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r.bodies = append(r.bodies, req.Body)
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader("")), Request: req}, nil
}

type writerToBody struct{ *strings.Reader }

func (writerToBody) Close() error { return nil }

func TestSafeBodyTransportHidesWriterTo(t *testing.T) {
	rec := &recordingTransport{}
	tr := SafeBodyTransport(rec)
	body := writerToBody{strings.NewReader("payload")}
	var _ io.WriterTo = body
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/", body)
	require.NoError(t, err)
	resp, err := tr.RoundTrip(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Len(t, rec.bodies, 1)
	_, isWriterTo := rec.bodies[0].(io.WriterTo)
	assert.False(t, isWriterTo, "the body passed on must not offer WriteTo")
	b, err := io.ReadAll(rec.bodies[0].(io.Reader))
	require.NoError(t, err)
	assert.Equal(t, "payload", string(b))
	assert.Equal(t, body, req.Body, "the caller's request is not modified")
}
