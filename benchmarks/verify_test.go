package benchmarks

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// verifyRecords is how many records each library puts in its correctness run.
const verifyRecords = 20_000

// verdict is what a correctness run found in the stream after a library put
// verifyRecords distinct records.
type verdict struct {
	put            int // records put
	kinesisRecords int // Kinesis records the stream holds
	delivered      int // user records read back (sub-records of aggregates included)
	lost           int // records put but not in the stream
	duplicated     int // extra copies
	corrupt        int // records read back that match no record put (or undecodable aggregates)
	// pkRewritten counts records read back with another partition key than the
	// one they were put with: a consumer sees the wrong key.
	pkRewritten int
	// wrongShard counts records stored in a shard whose hash key range does not
	// hold the MD5 of their own partition key: per-key ordering and shard
	// affinity are broken, and a KCL consumer filtering sub-records by the
	// shard's range after a reshard would drop them.
	wrongShard int
}

func (v verdict) exact() bool {
	return v.lost == 0 && v.duplicated == 0 && v.corrupt == 0 && v.pkRewritten == 0 && v.wrongShard == 0 && v.delivered == v.put
}

func (v verdict) String() string {
	return fmt.Sprintf("put %d, read back %d in %d Kinesis records: lost %d, duplicated %d, corrupt %d, partition key rewritten %d, on a shard not owning their key %d",
		v.put, v.delivered, v.kinesisRecords, v.lost, v.duplicated, v.corrupt, v.pkRewritten, v.wrongShard)
}

// report adds the verdict to a benchmark's line, as percentages of the records
// put, so that a fast wrong answer shows next to its speed.
func (v verdict) report(b *testing.B) {
	pct := func(n int) float64 { return 100 * float64(n) / float64(v.put) }
	b.ReportMetric(pct(v.lost+v.corrupt), "lost-%")
	b.ReportMetric(pct(v.pkRewritten), "pk-rewritten-%")
	b.ReportMetric(pct(v.wrongShard), "wrong-shard-%")
}

var verdicts sync.Map // lib/shards -> verdict

// verifyProducerOnce runs the correctness check of lib on a stream of shards
// shards once per process and fails tb when our producer is not exact.
func verifyProducerOnce(tb testing.TB, lib string, shards int) verdict {
	key := fmt.Sprintf("%s/%d", lib, shards)
	if v, ok := verdicts.Load(key); ok {
		return v.(verdict)
	}
	v := verifyProducer(tb, lib, shards)
	verdicts.Store(key, v)
	return v
}

// verifyProducer puts verifyRecords distinct records with lib through the
// in-process fake's HTTP handler (a real *kinesis.Client, as in the
// benchmark), then reads every shard back, deaggregates what it holds and
// compares it with what was put.
func verifyProducer(tb testing.TB, lib string, shards int) verdict {
	tb.Helper()
	srv := kinesistest.NewServer(tb)
	fake, client := srv.Kinesis(), srv.Client()
	stream := uniqueStream("verify")
	createStream(tb, fake, stream, shards)
	want := newWorkload(verifyRecords)

	var p benchProducer
	switch lib {
	case libOurs:
		p = newOurs(tb, client, stream)
	case libA8m:
		p = newTheirs(client, stream)
	default:
		tb.Fatalf("no producer %q", lib)
	}
	for _, r := range want {
		if err := p.put(r); err != nil {
			tb.Fatal(err)
		}
	}
	ok, failed := p.close()
	if failed != 0 || ok >= 0 && ok != int64(len(want)) {
		tb.Fatalf("%s: %d of %d records confirmed, %d failed", lib, ok, len(want), failed)
	}
	v := readBack(tb, fake, stream, want)
	if lib == libOurs && !v.exact() {
		tb.Fatalf("%s is not exact: %v", lib, v)
	}
	return v
}

// readBack reads every shard of stream from its start and checks each user
// record against want.
func readBack(tb testing.TB, fake *kinesistest.Kinesis, stream string, want []userRecord) verdict {
	tb.Helper()
	ctx := context.Background()
	v := verdict{put: len(want)}
	seen := make([]int, len(want))
	ls, err := fake.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		tb.Fatal(err)
	}
	for _, sh := range ls.Shards {
		hr, err := aggregation.ParseHashRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
		if err != nil {
			tb.Fatal(err)
		}
		it, err := fake.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
		})
		if err != nil {
			tb.Fatal(err)
		}
		iter := it.ShardIterator
		for iter != nil {
			out, err := fake.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			if err != nil {
				tb.Fatal(err)
			}
			for _, kr := range out.Records {
				v.kinesisRecords++
				subs := []aggregation.UserRecord{{PartitionKey: aws.ToString(kr.PartitionKey), Data: kr.Data}}
				if aggregation.IsAggregated(kr.Data) {
					if subs, err = aggregation.Deaggregate(kr.Data); err != nil {
						v.corrupt++
						continue
					}
				}
				for _, u := range subs {
					v.delivered++
					i, ok := recordIndex(u.Data)
					if !ok || i >= len(want) || !bytes.Equal(u.Data, want[i].data) {
						v.corrupt++
						continue
					}
					seen[i]++
					if u.PartitionKey != want[i].pk {
						v.pkRewritten++
					}
					if !hr.Contains(aggregation.HashKey(want[i].pk)) {
						v.wrongShard++
					}
				}
			}
			if len(out.Records) == 0 && aws.ToInt64(out.MillisBehindLatest) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	for _, n := range seen {
		switch {
		case n == 0:
			v.lost++
		case n > 1:
			v.duplicated += n - 1
		}
	}
	return v
}

// TestProducerCorrectness is the correctness half of BenchmarkProducer: our
// producer must deliver exactly the records put, each with its own partition
// key, on the shard owning that key. What the other library does is logged
// (see BENCHMARKS.md); it must at least not lose data.
func TestProducerCorrectness(t *testing.T) {
	for _, shards := range []int{4, 64} {
		for _, lib := range []string{libOurs, libA8m} {
			t.Run(fmt.Sprintf("shards=%d/lib=%s", shards, lib), func(t *testing.T) {
				v := verifyProducer(t, lib, shards)
				t.Log(v)
				if v.lost != 0 || v.corrupt != 0 || v.duplicated != 0 {
					t.Errorf("data not delivered exactly once: %v", v)
				}
			})
		}
	}
}
