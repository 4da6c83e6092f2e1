package benchmarks

import (
	"crypto/md5"
	"testing"

	a8m "github.com/a8m/kinesis-producer"

	"github.com/kinesis-go/kinesis/aggregation"
)

// aggregateSize is the aggregate size of the aggregation benchmarks: the KPL's
// and our producer's default AggregationMaxSize.
const aggregateSize = 51200

// BenchmarkAggregation measures the producer-side work per user record (one op
// is one record of the workload) against the physical floor on this machine:
//
//   - floor: what no KPL-compatible producer can avoid. The MD5 of the record's
//     partition key (to find its shard), the record's share of the MD5 over the
//     aggregate it lands in (the checksum of a 51,200-byte aggregate divided by
//     the records in it), and copying its 100 bytes once.
//   - kinesis-go: aggregation.HashKey (what the producer computes at Put to
//     route the record) plus Aggregator.Add, and Drain when the aggregate is
//     full.
//   - a8m: a8m's exported Aggregator, Put and Drain at the same size. It
//     computes no hash key: it does not predict shards (the cause of the
//     correctness problems BenchmarkProducer reports), so it can go below the
//     floor as defined here.
func BenchmarkAggregation(b *testing.B) {
	recs := sharedPool()
	b.Run("lib=floor", func(b *testing.B) {
		perAggregate, body := floorAggregate(b, recs)
		buf := make([]byte, len(body))
		var sink [16]byte
		b.SetBytes(recordSize)
		b.ReportAllocs()
		m := startMeter()
		b.ResetTimer()
		off := 0
		for i := range b.N {
			r := recs[i%putPool]
			k := md5.Sum([]byte(r.pk))
			sink[i&15] ^= k[0]
			off += copy(buf[off:], r.data)
			if (i+1)%perAggregate == 0 {
				sum := md5.Sum(body)
				sink[0] ^= sum[0]
				off = 0
			}
		}
		b.StopTimer()
		m.report(b, b.N, true)
		_ = sink
	})
	b.Run("lib=kinesis-go", func(b *testing.B) {
		a := aggregation.NewAggregator(aggregateSize, 0)
		var sink aggregation.Hash128
		b.SetBytes(recordSize)
		b.ReportAllocs()
		m := startMeter()
		b.ResetTimer()
		for i := range b.N {
			r := recs[i%putPool]
			sink = aggregation.HashKey(r.pk)
			u := aggregation.UserRecord{PartitionKey: r.pk, Data: r.data}
			if !a.Add(u) {
				a.Drain()
				if !a.Add(u) {
					b.Fatal("record does not fit an empty aggregate")
				}
			}
		}
		a.Drain()
		b.StopTimer()
		m.report(b, b.N, true)
		_ = sink
	})
	b.Run("lib=a8m", func(b *testing.B) {
		a := new(a8m.Aggregator)
		b.SetBytes(recordSize)
		b.ReportAllocs()
		m := startMeter()
		b.ResetTimer()
		for i := range b.N {
			r := recs[i%putPool]
			// a8m's producer drains before a record that would not fit; the
			// accounting is its own (Size counts 8 bytes per record of framing).
			if a.Size()+len(r.data)+len(r.pk)+md5.Size+4+8 > aggregateSize {
				if _, err := a.Drain(); err != nil {
					b.Fatal(err)
				}
			}
			a.Put(r.data, r.pk)
		}
		if _, err := a.Drain(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		m.report(b, b.N, true)
	})
}

// floorAggregate returns how many workload records fill one aggregate of
// aggregateSize bytes with our encoder, and that aggregate's protobuf body
// (what its MD5 covers).
func floorAggregate(tb testing.TB, recs []userRecord) (int, []byte) {
	a := aggregation.NewAggregator(aggregateSize, 0)
	for _, r := range recs {
		if !a.Add(aggregation.UserRecord{PartitionKey: r.pk, Data: r.data}) {
			break
		}
	}
	n := a.Len()
	kr, _ := a.Drain()
	if n == 0 || !aggregation.IsAggregated(kr.Data) {
		tb.Fatal("no aggregate")
	}
	return n, kr.Data[4 : len(kr.Data)-md5.Size]
}
