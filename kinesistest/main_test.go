package kinesistest

import (
	"context"
	"crypto/md5"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

// testbed.Main also verifies that no goroutine leaks (goleak) once all tests
// ran; the emulators start only for the conformance test.
func TestMain(m *testing.M) { testbed.Main(m) }

// clock is a manual clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// api is the part of *kinesis.Client the shared scenarios use, so they run
// against the fake directly, through Handler, or against kinesis-mock.
type api interface {
	CreateStream(context.Context, *kinesis.CreateStreamInput, ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	ListShards(context.Context, *kinesis.ListShardsInput, ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
	PutRecords(context.Context, *kinesis.PutRecordsInput, ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	GetShardIterator(context.Context, *kinesis.GetShardIteratorInput, ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error)
	GetRecords(context.Context, *kinesis.GetRecordsInput, ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error)
	SplitShard(context.Context, *kinesis.SplitShardInput, ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(context.Context, *kinesis.MergeShardsInput, ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
	DescribeStreamSummary(context.Context, *kinesis.DescribeStreamSummaryInput, ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error)
}

var _ api = (*Kinesis)(nil)
var _ api = (*kinesis.Client)(nil)

func newFake(t testing.TB, shards int, optFns ...func(*Options)) (*Kinesis, *clock) {
	t.Helper()
	c := newClock()
	k := newTestKinesis(t, append([]func(*Options){func(o *Options) { o.Now = c.Now }}, optFns...)...)
	if shards > 0 {
		createStream(t, k, "s", shards)
	}
	return k, c
}

func createStream(t testing.TB, k api, name string, shards int) {
	t.Helper()
	_, err := k.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))})
	require.NoError(t, err)
}

// newTestKinesis starts a server for t and returns its in-process API.
func newTestKinesis(t testing.TB, optFns ...func(*Options)) *Kinesis {
	t.Helper()
	return NewServer(t, optFns...).Kinesis()
}

// httpClient returns a real SDK client for k's server, with retries off so
// that errors surface as they are.
func httpClient(t testing.TB, k *Kinesis) *kinesis.Client {
	t.Helper()
	return kinesis.New(k.srv.Client().Options(), func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
}

// md5Key computes the hash key of pk independently of the aggregation package.
func md5Key(pk string) *big.Int {
	sum := md5.Sum([]byte(pk))
	return new(big.Int).SetBytes(sum[:])
}

func inRange(t testing.TB, h *big.Int, r *types.HashKeyRange) bool {
	t.Helper()
	lo, ok1 := new(big.Int).SetString(aws.ToString(r.StartingHashKey), 10)
	hi, ok2 := new(big.Int).SetString(aws.ToString(r.EndingHashKey), 10)
	require.True(t, ok1 && ok2, "bad range %v", r)
	return h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0
}

// expectedShard returns the ID of the shard in shards whose range holds h.
func expectedShard(t testing.TB, shards []types.Shard, h *big.Int) string {
	t.Helper()
	var found []string
	for _, s := range shards {
		if inRange(t, h, s.HashKeyRange) {
			found = append(found, aws.ToString(s.ShardId))
		}
	}
	require.Len(t, found, 1, "hash key %s must be in exactly one open shard", h)
	return found[0]
}

func listAll(t testing.TB, k api, in *kinesis.ListShardsInput) []types.Shard {
	t.Helper()
	var out []types.Shard
	for {
		res, err := k.ListShards(context.Background(), in)
		require.NoError(t, err)
		out = append(out, res.Shards...)
		if res.NextToken == nil {
			return out
		}
		in = &kinesis.ListShardsInput{NextToken: res.NextToken, MaxResults: in.MaxResults}
	}
}

func openShards(t testing.TB, k api, stream string) []types.Shard {
	return listAll(t, k, &kinesis.ListShardsInput{StreamName: aws.String(stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
}

func iter(t testing.TB, k api, stream, shard string, typ types.ShardIteratorType, mod ...func(*kinesis.GetShardIteratorInput)) string {
	t.Helper()
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: typ}
	for _, m := range mod {
		m(in)
	}
	out, err := k.GetShardIterator(context.Background(), in)
	require.NoError(t, err)
	return aws.ToString(out.ShardIterator)
}

// readShard reads a shard from it until the shard's end (closed shard) or an
// empty response at the tip (open shard). It returns the records and the
// ChildShards of the last response.
func readShard(t testing.TB, k api, it string, limit int32) ([]types.Record, []types.ChildShard) {
	t.Helper()
	var recs []types.Record
	for range 10000 {
		in := &kinesis.GetRecordsInput{ShardIterator: aws.String(it)}
		if limit > 0 {
			in.Limit = aws.Int32(limit)
		}
		out, err := k.GetRecords(context.Background(), in)
		require.NoError(t, err)
		recs = append(recs, out.Records...)
		if out.NextShardIterator == nil {
			return recs, out.ChildShards
		}
		if len(out.Records) == 0 {
			return recs, nil
		}
		it = aws.ToString(out.NextShardIterator)
	}
	t.Fatal("shard never ended")
	return nil, nil
}

func entry(pk string, data string) types.PutRecordsRequestEntry {
	return types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: []byte(data)}
}

func put(t testing.TB, k api, stream string, entries ...types.PutRecordsRequestEntry) *kinesis.PutRecordsOutput {
	t.Helper()
	out, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
	require.NoError(t, err)
	require.Equal(t, int32(0), aws.ToInt32(out.FailedRecordCount))
	require.Len(t, out.Records, len(entries))
	return out
}

func seqInt(t testing.TB, s *string) *big.Int {
	t.Helper()
	v, ok := new(big.Int).SetString(aws.ToString(s), 10)
	require.True(t, ok, "sequence number %q is not a decimal integer", aws.ToString(s))
	return v
}
