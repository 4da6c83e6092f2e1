package kinesistest

import (
	"context"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

func benchEntries(n, size int) ([]types.PutRecordsRequestEntry, int) {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i)
	}
	entries := make([]types.PutRecordsRequestEntry, n)
	total := 0
	for i := range entries {
		pk := "partition-key-" + strconv.Itoa(i*7919)
		entries[i] = types.PutRecordsRequestEntry{PartitionKey: aws.String(pk), Data: data}
		total += size
	}
	return entries, total
}

// BenchmarkPutRecords measures PutRecords calls made directly on the fake.
// 500 x 50 KB is over AWS's 5 MiB request limit, so that case raises
// MaxPutRecordsSize; 100 x 50 KB is the largest such batch AWS accepts.
func BenchmarkPutRecords(b *testing.B) {
	cases := []struct {
		name          string
		n, size       int
		discard       bool
		raiseReqLimit bool
	}{
		{"discard/500x100B", 500, 100, true, false},
		{"discard/100x50KB", 100, 50 << 10, true, false},
		{"discard/500x50KB", 500, 50 << 10, true, true},
		{"store/500x100B", 500, 100, false, false},
		{"store/100x50KB", 100, 50 << 10, false, false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			entries, total := benchEntries(tc.n, tc.size)
			newK := func() *Kinesis {
				k := newTestKinesis(b, func(o *Options) {
					o.DiscardData = tc.discard
					if tc.raiseReqLimit {
						o.MaxPutRecordsSize = 64 << 20
					}
				})
				createStream(b, k, "s", 8)
				return k
			}
			k := newK()
			in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}
			ctx := context.Background()
			b.SetBytes(int64(total))
			b.ReportAllocs()
			b.ResetTimer()
			stored := 0
			for b.Loop() {
				if !tc.discard && stored >= 256<<20 {
					// Keep the stored data bounded: start over with a new fake.
					b.StopTimer()
					k, stored = newK(), 0
					b.StartTimer()
				}
				if _, err := k.PutRecords(ctx, in); err != nil {
					b.Fatal(err)
				}
				stored += total
			}
			b.ReportMetric(float64(tc.n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPutRecordsParallel measures contention: goroutines putting 500 x
// 100 B batches into one stream.
func BenchmarkPutRecordsParallel(b *testing.B) {
	entries, total := benchEntries(500, 100)
	k := newTestKinesis(b, func(o *Options) { o.DiscardData = true })
	createStream(b, k, "s", 8)
	in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.PutRecords(context.Background(), in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(500*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutRecordsHTTP measures the same call through a real SDK client
// (Server.Client: JSON, base64, HTTP/1.1 over in-memory connections).
func BenchmarkPutRecordsHTTP(b *testing.B) {
	entries, total := benchEntries(500, 100)
	k := newTestKinesis(b, func(o *Options) { o.DiscardData = true })
	createStream(b, k, "s", 8)
	c := httpClient(b, k)
	in := &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.PutRecords(context.Background(), in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(500*float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(500*b.N), "ns/record")
}

// BenchmarkGetRecords measures reading 10,000 stored 100 B records per call.
func BenchmarkGetRecords(b *testing.B) {
	entries, _ := benchEntries(500, 100)
	k := newTestKinesis(b)
	createStream(b, k, "s", 1)
	for range 20 {
		if _, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
			b.Fatal(err)
		}
	}
	it := iter(b, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
	b.SetBytes(10000 * 100)
	b.ReportAllocs()
	for b.Loop() {
		out, err := k.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil || len(out.Records) != 10000 {
			b.Fatal(err, len(out.Records))
		}
	}
	b.ReportMetric(10000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGetRecordsHTTP reads 10,000 stored 100 B records per call through
// a real SDK client.
func BenchmarkGetRecordsHTTP(b *testing.B) {
	entries, _ := benchEntries(500, 100)
	k := newTestKinesis(b)
	createStream(b, k, "s", 1)
	for range 20 {
		if _, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
			b.Fatal(err)
		}
	}
	c := httpClient(b, k)
	it := iter(b, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
	b.SetBytes(10000 * 100)
	b.ReportAllocs()
	for b.Loop() {
		out, err := c.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(it)})
		if err != nil || len(out.Records) != 10000 {
			b.Fatal(err, len(out.Records))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(10000*b.N), "ns/record")
}

// BenchmarkStart measures what a test pays for its server: Start, a stream,
// the first call through Client, Close. The target is under 10 ms.
func BenchmarkStart(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		srv, err := Start()
		if err != nil {
			b.Fatal(err)
		}
		if err := srv.CreateStream("s", 4); err != nil {
			b.Fatal(err)
		}
		if _, err := srv.Client().ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String("s")}); err != nil {
			b.Fatal(err)
		}
		if err := srv.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
