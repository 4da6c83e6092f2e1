package producer

import (
	"context"
	"math/big"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// fakeKinesis is the in-process Kinesis of package kinesistest with one stream and
// the fault hooks the producer's unit tests need: per-call errors, per-entry error
// codes, ambiguous failures (written, then an error), failing shard listings, and
// small ListShards pages. Set the hooks before the producer starts.
type fakeKinesis struct {
	*kinesistest.Kinesis
	stream   string
	pageSize int32

	// putHook runs for each PutRecords call (numbered from 1) before it is applied.
	// It may fail the whole call, or return per-entry error codes ("" succeeds).
	putHook func(call int, in *kinesis.PutRecordsInput) (entryCodes []string, err error)
	// afterPut runs after a call was applied; its error replaces the response.
	afterPut func(call int) error
	listErr  error
	descErr  error
	// listBroken, when set (any time), fails ListShards with it.
	listBroken atomic.Pointer[error]

	calls atomic.Int64
}

type entryCodesKey struct{}

func newFakeKinesis(stream string, shards int) *fakeKinesis {
	return newFakeKinesisWith(stream, shards, 0)
}

// newFakeKinesisWith creates the stream with a max record size of maxKiB (0: 1 MiB).
func newFakeKinesisWith(stream string, shards int, maxKiB int32) *fakeKinesis {
	// Start runs no goroutine while only the in-process API is used: nothing to close.
	srv, err := kinesistest.Start()
	if err != nil {
		panic(err)
	}
	k := srv.Kinesis()
	in := &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(int32(shards))}
	if maxKiB > 0 {
		in.MaxRecordSizeInKiB = aws.Int32(maxKiB)
	}
	if _, err := k.CreateStream(context.Background(), in); err != nil {
		panic(err)
	}
	k.Control(kinesistest.OpPutRecords, func(c *kinesistest.Call) (any, error, bool) {
		codes, _ := c.Context().Value(entryCodesKey{}).([]string)
		for i, code := range codes {
			if code != "" {
				c.FailRecord(i, code)
			}
		}
		return nil, nil, false
	})
	return &fakeKinesis{Kinesis: k, stream: stream, pageSize: 1000}
}

func apiError(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	call := int(f.calls.Add(1))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if f.putHook != nil {
		codes, err := f.putHook(call, in)
		if err != nil {
			return nil, err
		}
		ctx = context.WithValue(ctx, entryCodesKey{}, codes)
	}
	out, err := f.Kinesis.PutRecords(ctx, in, o...)
	if err == nil && f.afterPut != nil {
		if err := f.afterPut(call); err != nil {
			return nil, err
		}
	}
	return out, err
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	if f.listErr != nil {
		return nil, f.listErr
	}
	if err := f.listBroken.Load(); err != nil {
		return nil, *err
	}
	cp := *in
	cp.MaxResults = aws.Int32(min(aws.ToInt32(in.MaxResults), f.pageSize))
	return f.Kinesis.ListShards(ctx, &cp, o...)
}

func (f *fakeKinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, o ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	if f.descErr != nil {
		return nil, f.descErr
	}
	return f.Kinesis.DescribeStreamSummary(ctx, in, o...)
}

func (f *fakeKinesis) putCalls() int { return int(f.calls.Load()) }

// ranges returns every shard's hash key range, closed shards included.
func (f *fakeKinesis) ranges() map[string]aggregation.HashRange {
	out := make(map[string]aggregation.HashRange)
	for _, sh := range f.Shards(f.stream) {
		rng, err := aggregation.ParseHashRange(*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey)
		if err != nil {
			panic(err)
		}
		out[*sh.ShardId] = rng
	}
	return out
}

// openShardIDs returns the open shards in shard ID order.
func (f *fakeKinesis) openShardIDs() []string {
	var ids []string
	for _, sh := range f.Shards(f.stream) {
		if sh.SequenceNumberRange.EndingSequenceNumber == nil {
			ids = append(ids, *sh.ShardId)
		}
	}
	return ids
}

// split splits an open shard in the middle of its range.
func (f *fakeKinesis) split(id string) {
	rng := f.ranges()[id]
	mid := new(big.Int).Rsh(new(big.Int).Add(rng.Start.Big(), rng.End.Big()), 1)
	mid.Add(mid, big.NewInt(1))
	if _, err := f.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: aws.String(f.stream),
		ShardToSplit: aws.String(id), NewStartingHashKey: aws.String(mid.String())}); err != nil {
		panic(err)
	}
}

// merge merges two adjacent open shards.
func (f *fakeKinesis) merge(a, b string) {
	if _, err := f.MergeShards(context.Background(), &kinesis.MergeShardsInput{StreamName: aws.String(f.stream),
		ShardToMerge: aws.String(a), AdjacentShardToMerge: aws.String(b)}); err != nil {
		panic(err)
	}
}

// writtenRecord is a user record found in the stream.
type writtenRecord struct {
	shard      string
	seq        string
	sub        int
	pk, ehk    string
	data       string
	outOfRange bool // consumers drop it
}

// written returns every user record written, deaggregated.
func (f *fakeKinesis) written() []writtenRecord {
	var out []writtenRecord
	for id, rng := range f.ranges() {
		for _, r := range f.Records(f.stream, id) {
			if !aggregation.IsAggregated(r.Data) {
				out = append(out, writtenRecord{shard: id, seq: *r.SequenceNumber, pk: *r.PartitionKey, data: string(r.Data)})
				continue
			}
			subs, err := aggregation.Deaggregate(r.Data)
			if err != nil {
				panic(err)
			}
			for i, u := range subs {
				h, _ := u.HashKey()
				out = append(out, writtenRecord{shard: id, seq: *r.SequenceNumber, sub: i, pk: u.PartitionKey,
					ehk: u.ExplicitHashKey, data: string(u.Data), outOfRange: !rng.Contains(h)})
			}
		}
	}
	return out
}

// sameShard reports whether key's hash key lies in the shard's range.
func sameShard(f *fakeKinesis, key string, shard string) bool {
	rng, ok := f.ranges()[shard]
	return ok && rng.Contains(aggregation.HashKey(key))
}
