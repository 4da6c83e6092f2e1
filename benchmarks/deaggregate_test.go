package benchmarks

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	awsdeagg "github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"

	"github.com/kinesis-go/kinesis/aggregation"
)

// The workload of the aggregation package's own benchmarks: 500 records of 100
// bytes whose 16-byte partition keys are drawn from 1,000 keys, in one aggregate.
const (
	dataSize     = 100
	keys         = 1000
	perAggregate = 500
)

func aggregate(tb testing.TB) ([]byte, []aggregation.UserRecord) {
	rng := rand.New(rand.NewPCG(42, 42))
	pks := make([]string, keys)
	for i := range pks {
		pks[i] = fmt.Sprintf("%016x", rng.Uint64())
	}
	a := aggregation.NewAggregator(1<<20, perAggregate)
	for range perAggregate {
		data := make([]byte, dataSize)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		if !a.Add(aggregation.UserRecord{PartitionKey: pks[rng.IntN(len(pks))], Data: data}) {
			tb.Fatal("aggregate too small")
		}
	}
	kr, recs := a.Drain()
	return kr.Data, recs
}

// TestSameRecords checks that both libraries decode the benchmark aggregate to
// the same records, so that the benchmarks compare equal work.
func TestSameRecords(t *testing.T) {
	data, want := aggregate(t)
	ours, err := aggregation.Deaggregate(data)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := awsdeagg.DeaggregateRecords([]types.Record{{Data: data, PartitionKey: aws.String("a"), SequenceNumber: aws.String("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ours) != len(want) || len(theirs) != len(want) {
		t.Fatalf("records: ours %d, theirs %d, want %d", len(ours), len(theirs), len(want))
	}
	for i, w := range want {
		if ours[i].PartitionKey != w.PartitionKey || !bytes.Equal(ours[i].Data, w.Data) {
			t.Fatalf("ours: record %d differs", i)
		}
		if aws.ToString(theirs[i].PartitionKey) != w.PartitionKey || !bytes.Equal(theirs[i].Data, w.Data) {
			t.Fatalf("theirs: record %d differs", i)
		}
	}
}

func BenchmarkDeaggregate(b *testing.B) {
	data, _ := aggregate(b)
	b.Run("lib=kinesis-go", func(b *testing.B) {
		perRecord(b, len(data), func() int {
			recs, err := aggregation.Deaggregate(data)
			if err != nil {
				b.Fatal(err)
			}
			return len(recs)
		})
	})
	b.Run("lib=awslabs", func(b *testing.B) {
		in := []types.Record{{Data: data, PartitionKey: aws.String("a"), SequenceNumber: aws.String("1")}}
		perRecord(b, len(data), func() int {
			recs, err := awsdeagg.DeaggregateRecords(in)
			if err != nil {
				b.Fatal(err)
			}
			return len(recs)
		})
	})
}

// perRecord runs decode b.N times and reports time and allocations per
// sub-record besides the per-aggregate figures.
func perRecord(b *testing.B, size int, decode func() int) {
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for range b.N {
		if n := decode(); n != perAggregate {
			b.Fatalf("decoded %d records, want %d", n, perAggregate)
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perAggregate), "ns/record")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N*perAggregate), "allocs/record")
}
