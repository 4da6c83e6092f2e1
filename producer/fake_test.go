package producer

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/aggregation"
)

// fakeKinesis is a small in-memory Kinesis stream for the producer's unit tests: it
// routes PutRecords entries like Kinesis (ExplicitHashKey, else MD5 of the partition
// key) to the open shard holding the hash key, keeps what was written per shard, and
// lets a test inject faults per call or per entry.
type fakeKinesis struct {
	mu       sync.Mutex
	stream   string
	shards   []*fakeShard
	nextID   int
	seq      int64
	maxKiB   int32
	pageSize int

	// putHook, when set, runs for each PutRecords call before it is applied. It may
	// return an error for the whole call, or per-entry error codes (nil: no entry
	// fault; "" entries succeed).
	putHook func(call int, in *kinesis.PutRecordsInput) (entryCodes []string, err error)
	// afterPut, when set, runs after a PutRecords call was applied; its error replaces
	// the response (an ambiguous failure: the records were written).
	afterPut func(call int) error
	listErr  error
	descErr  error

	calls     int
	listCalls int
	descCalls int
}

type fakeShard struct {
	id     string
	rng    aggregation.HashRange
	closed bool
	recs   []fakeRecord
}

type fakeRecord struct {
	pk, ehk string
	data    []byte
	seq     string
}

func newFakeKinesis(stream string, shards int) *fakeKinesis {
	f := &fakeKinesis{stream: stream, maxKiB: 1024, pageSize: 1000}
	// Even split of the hash key space, as CreateStream does.
	max := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(max, big.NewInt(int64(shards)))
	for i := range shards {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
		if i == shards-1 {
			end = new(big.Int).Sub(max, big.NewInt(1))
		}
		f.addShard(hashOf(start), hashOf(end))
	}
	return f
}

func hashOf(b *big.Int) aggregation.Hash128 {
	h, err := aggregation.ParseHash128(b.String())
	if err != nil {
		panic(err)
	}
	return h
}

func (f *fakeKinesis) addShard(start, end aggregation.Hash128) *fakeShard {
	s := &fakeShard{id: fmt.Sprintf("shardId-%012d", f.nextID), rng: aggregation.HashRange{Start: start, End: end}}
	f.nextID++
	f.shards = append(f.shards, s)
	return s
}

func apiError(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func (f *fakeKinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	f.mu.Lock()
	f.calls++
	call := f.calls
	hook, after := f.putHook, f.afterPut
	f.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var codes []string
	if hook != nil {
		var err error
		codes, err = hook(call, in)
		if err != nil {
			return nil, err
		}
	}
	if aws.ToString(in.StreamName) != f.stream {
		return nil, apiError("ResourceNotFoundException", "Stream "+aws.ToString(in.StreamName)+" not found", smithy.FaultClient)
	}
	out := &kinesis.PutRecordsOutput{Records: make([]types.PutRecordsResultEntry, len(in.Records))}
	f.mu.Lock()
	for i, e := range in.Records {
		if i < len(codes) && codes[i] != "" {
			out.Records[i] = types.PutRecordsResultEntry{ErrorCode: aws.String(codes[i]), ErrorMessage: aws.String("injected " + codes[i])}
			out.FailedRecordCount = aws.Int32(aws.ToInt32(out.FailedRecordCount) + 1)
			continue
		}
		h, err := (aggregation.UserRecord{PartitionKey: aws.ToString(e.PartitionKey), ExplicitHashKey: aws.ToString(e.ExplicitHashKey)}).HashKey()
		if err != nil {
			f.mu.Unlock()
			return nil, apiError("ValidationException", err.Error(), smithy.FaultClient)
		}
		s := f.route(h)
		f.seq++
		seq := fmt.Sprintf("%056d", f.seq)
		s.recs = append(s.recs, fakeRecord{pk: aws.ToString(e.PartitionKey), ehk: aws.ToString(e.ExplicitHashKey), data: slices.Clone(e.Data), seq: seq})
		out.Records[i] = types.PutRecordsResultEntry{ShardId: aws.String(s.id), SequenceNumber: aws.String(seq)}
	}
	f.mu.Unlock()
	if after != nil {
		if err := after(call); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (f *fakeKinesis) route(h aggregation.Hash128) *fakeShard {
	for _, s := range f.shards {
		if !s.closed && s.rng.Contains(h) {
			return s
		}
	}
	panic("no open shard holds " + h.String())
}

func (f *fakeKinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls++
	if f.listErr != nil {
		return nil, f.listErr
	}
	if in.NextToken == nil && aws.ToString(in.StreamName) != f.stream {
		return nil, apiError("ResourceNotFoundException", "Stream not found", smithy.FaultClient)
	}
	var open []types.Shard
	for _, s := range f.shards {
		if s.closed && in.ShardFilter != nil && in.ShardFilter.Type == types.ShardFilterTypeAtLatest {
			continue
		}
		sh := types.Shard{
			ShardId: aws.String(s.id),
			HashKeyRange: &types.HashKeyRange{
				StartingHashKey: aws.String(s.rng.Start.String()),
				EndingHashKey:   aws.String(s.rng.End.String()),
			},
			SequenceNumberRange: &types.SequenceNumberRange{StartingSequenceNumber: aws.String("0")},
		}
		if s.closed {
			sh.SequenceNumberRange.EndingSequenceNumber = aws.String("9")
		}
		open = append(open, sh)
	}
	from := 0
	if in.NextToken != nil {
		from, _ = strconv.Atoi(*in.NextToken)
	}
	to := min(from+f.pageSize, len(open))
	out := &kinesis.ListShardsOutput{Shards: open[from:to]}
	if to < len(open) {
		out.NextToken = aws.String(strconv.Itoa(to))
	}
	return out, nil
}

func (f *fakeKinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.descCalls++
	if f.descErr != nil {
		return nil, f.descErr
	}
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
		StreamName:         aws.String(f.stream),
		StreamARN:          aws.String("arn:aws:kinesis:us-east-1:123456789012:stream/" + f.stream),
		MaxRecordSizeInKiB: aws.Int32(f.maxKiB),
	}}, nil
}

// split closes the open shard at index i and opens two children halving its range.
func (f *fakeKinesis) split(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.shards {
		if s.id != id {
			continue
		}
		s.closed = true
		start, end := s.rng.Start.Big(), s.rng.End.Big()
		mid := new(big.Int).Rsh(new(big.Int).Add(start, end), 1)
		f.addShard(s.rng.Start, hashOf(mid))
		f.addShard(hashOf(new(big.Int).Add(mid, big.NewInt(1))), s.rng.End)
		return
	}
	panic("no shard " + id)
}

// merge closes two adjacent open shards and opens their union.
func (f *fakeKinesis) merge(a, b string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var sa, sb *fakeShard
	for _, s := range f.shards {
		switch s.id {
		case a:
			sa = s
		case b:
			sb = s
		}
	}
	sa.closed, sb.closed = true, true
	lo, hi := sa, sb
	if sb.rng.Start.Compare(sa.rng.Start) < 0 {
		lo, hi = sb, sa
	}
	f.addShard(lo.rng.Start, hi.rng.End)
}

func (f *fakeKinesis) openShardIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, s := range f.shards {
		if !s.closed {
			ids = append(ids, s.id)
		}
	}
	return ids
}

// written returns every user record written, deaggregated, by shard, and fails the
// test's check when a sub-record lies outside its shard's range (what consumers drop).
type writtenRecord struct {
	shard      string
	seq        string
	sub        int
	pk, ehk    string
	data       string
	outOfRange bool
}

func (f *fakeKinesis) written() []writtenRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []writtenRecord
	for _, s := range f.shards {
		for _, r := range s.recs {
			if !aggregation.IsAggregated(r.data) {
				out = append(out, writtenRecord{shard: s.id, seq: r.seq, pk: r.pk, ehk: r.ehk, data: string(r.data)})
				continue
			}
			subs, err := aggregation.Deaggregate(r.data)
			if err != nil {
				panic(err)
			}
			for i, u := range subs {
				h, _ := u.HashKey()
				out = append(out, writtenRecord{shard: s.id, seq: r.seq, sub: i, pk: u.PartitionKey, ehk: u.ExplicitHashKey,
					data: string(u.Data), outOfRange: !s.rng.Contains(h)})
			}
		}
	}
	return out
}

func (f *fakeKinesis) putCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}
