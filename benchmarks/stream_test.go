package benchmarks

import (
	"bytes"
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// fillAPI is what fillStream needs of a Kinesis client or the fake.
type fillAPI interface {
	PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error)
	ListShards(ctx context.Context, in *kinesis.ListShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error)
}

// fillStream writes recs to stream the way our producer does, without timing
// it: aggregated per shard (51,200-byte aggregates), PutRecords calls under
// 5 MiB.
func fillStream(tb testing.TB, api fillAPI, stream string, recs []userRecord) {
	tb.Helper()
	ctx := context.Background()
	ls, err := api.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		tb.Fatal(err)
	}
	ranges := make([]aggregation.HashRange, len(ls.Shards))
	for i, sh := range ls.Shards {
		if ranges[i], err = aggregation.ParseHashRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey)); err != nil {
			tb.Fatal(err)
		}
	}
	sort.Slice(ranges, func(i, j int) bool { return ranges[i].Start.Compare(ranges[j].Start) < 0 })
	aggs := make([]*aggregation.Aggregator, len(ranges))
	for i := range aggs {
		aggs[i] = aggregation.NewAggregator(aggregateSize, 0)
	}
	var entries []types.PutRecordsRequestEntry
	size := 0
	flush := func() {
		if len(entries) == 0 {
			return
		}
		out, err := api.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
		if err != nil {
			tb.Fatal(err)
		}
		if aws.ToInt32(out.FailedRecordCount) != 0 {
			tb.Fatalf("%d records failed", aws.ToInt32(out.FailedRecordCount))
		}
		entries, size = nil, 0
	}
	drain := func(a *aggregation.Aggregator) {
		kr, _ := a.Drain()
		if size+len(kr.Data)+len(kr.PartitionKey) > 5<<20 || len(entries) == 500 {
			flush()
		}
		e := types.PutRecordsRequestEntry{PartitionKey: aws.String(kr.PartitionKey), Data: kr.Data}
		if kr.ExplicitHashKey != "" {
			e.ExplicitHashKey = aws.String(kr.ExplicitHashKey)
		}
		entries = append(entries, e)
		size += len(kr.Data) + len(kr.PartitionKey)
	}
	for _, r := range recs {
		h := aggregation.HashKey(r.pk)
		i := sort.Search(len(ranges), func(i int) bool { return ranges[i].Start.Compare(h) > 0 }) - 1
		u := aggregation.UserRecord{PartitionKey: r.pk, Data: r.data}
		if !aggs[i].Add(u) {
			drain(aggs[i])
			if !aggs[i].Add(u) {
				tb.Fatal("record does not fit an empty aggregate")
			}
		}
	}
	for _, a := range aggs {
		if a.Len() > 0 {
			drain(a)
		}
	}
	flush()
}

// prefilled is a stream filled once per process and read by many runs (each
// consumer run has its own lease table and starts at TRIM_HORIZON).
type prefilled struct {
	stream string
	recs   []userRecord
}

var prefills sync.Map // key -> *prefilled

// prefill returns the stream filled for key, creating and filling it with n
// records on shards shards through api the first time.
func prefill(tb testing.TB, key string, api interface {
	fillAPI
	streamCreator
}, shards, n int) *prefilled {
	tb.Helper()
	if p, ok := prefills.Load(key); ok {
		return p.(*prefilled)
	}
	p := &prefilled{stream: uniqueStream("consume"), recs: newWorkload(n)}
	if _, err := api.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(p.stream), ShardCount: aws.Int32(int32(shards))}); err != nil {
		tb.Fatal(err)
	}
	fillStream(tb, api, p.stream, p.recs)
	prefills.Store(key, p)
	return p
}

// checker verifies a consumer run: every record of want delivered at least
// once, with its own partition key and data. done is closed when each record
// was seen. It is safe for concurrent use.
type checker struct {
	want      []userRecord
	seen      []atomic.Uint32
	delivered atomic.Int64
	distinct  atomic.Int64
	wrongPK   atomic.Int64
	corrupt   atomic.Int64
	done      chan struct{}
}

func newChecker(want []userRecord) *checker {
	return &checker{want: want, seen: make([]atomic.Uint32, len(want)), done: make(chan struct{})}
}

func (c *checker) record(pk string, data []byte) {
	c.delivered.Add(1)
	i, ok := recordIndex(data)
	if !ok || i >= len(c.want) || !bytes.Equal(data, c.want[i].data) {
		c.corrupt.Add(1)
		return
	}
	if pk != c.want[i].pk {
		c.wrongPK.Add(1)
	}
	if c.seen[i].Add(1) == 1 && c.distinct.Add(1) == int64(len(c.want)) {
		close(c.done)
	}
}

// check fails tb unless the run delivered every record exactly as put.
// Duplicates are allowed (at-least-once) and reported as dup-%.
func (c *checker) check(tb testing.TB, lib string) (dupPct float64) {
	tb.Helper()
	if n := c.distinct.Load(); n != int64(len(c.want)) || c.corrupt.Load() != 0 || c.wrongPK.Load() != 0 {
		tb.Fatalf("%s delivered %d of %d records (%d deliveries, %d corrupt, %d with another partition key)",
			lib, n, len(c.want), c.delivered.Load(), c.corrupt.Load(), c.wrongPK.Load())
	}
	return 100 * float64(c.delivered.Load()-int64(len(c.want))) / float64(len(c.want))
}
