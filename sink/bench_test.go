package sink_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/sink"
	"github.com/kinesis-go/kinesis/sink/parquet"
)

type benchTrade struct {
	Ticker   string  `parquet:"tickerSymbol" json:"tickerSymbol"`
	Type     string  `parquet:"tradeType" json:"tradeType"`
	Price    float64 `parquet:"price" json:"price"`
	Quantity int64   `parquet:"quantity" json:"quantity"`
	ID       int64   `parquet:"id" json:"id"`
}

type benchCheckpointer struct{}

func (benchCheckpointer) Checkpoint(context.Context) error                  { return nil }
func (benchCheckpointer) CheckpointAt(context.Context, string, int64) error { return nil }

// BenchmarkSink measures one shard's processor writing stock-trade records (about 90
// bytes of JSON each, 4 MiB objects) into a local directory and into an in-process S3
// over loopback HTTP: records/s and process CPU per record (user + system, all threads:
// the GC, compression and the S3 server included).
//
//	go test -run '^$' -bench BenchmarkSink -benchtime 200000x ./sink
func BenchmarkSink(b *testing.B) {
	pf, err := parquet.New[benchTrade]()
	if err != nil {
		b.Fatal(err)
	}
	formats := []struct {
		name        string
		format      sink.Format
		compression sink.Compression
	}{
		{"json", nil, sink.CompressionNone},
		{"json-gzip", nil, sink.CompressionGzip},
		{"json-zstd", nil, sink.CompressionZstd},
		{"parquet-snappy", pf, sink.CompressionNone},
	}
	for _, destName := range []string{"dir", "s3"} {
		for _, f := range formats {
			b.Run(destName+"/"+f.name, func(b *testing.B) {
				var dest sink.Destination
				if destName == "dir" {
					dest = sink.NewDir(b.TempDir())
				} else {
					dest = benchS3(b)
				}
				p := sink.New(dest, func(o *sink.Options) {
					o.StreamName = "bench"
					o.BufferSize = 4 << 20
					o.BufferInterval = time.Hour
					o.Format = f.format
					o.Compression = f.compression
				})("shardId-000000000000")
				ctx := context.Background()
				if err := p.Initialize(ctx, consumer.InitializeInput{}); err != nil {
					b.Fatal(err)
				}
				const batch = 500
				batches := make([][]consumer.Record, 0, b.N/batch+1)
				arrival := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
				for i := 0; i < b.N; i += batch {
					var rs []consumer.Record
					for j := i; j < min(i+batch, b.N); j++ {
						rs = append(rs, consumer.Record{
							SequenceNumber:              fmt.Sprintf("4968079764544923445206221129847632764323185205132%07d", j),
							ApproximateArrivalTimestamp: arrival,
							Data:                        fmt.Appendf(nil, `{"tickerSymbol":"T%03d","tradeType":"BUY","price":%d.25,"quantity":%d,"id":%d}`, j%500, 100+j%400, 1+j%9000, j),
						})
					}
					batches = append(batches, rs)
				}
				cpu0 := processCPU()
				b.ResetTimer()
				for _, rs := range batches {
					if err := p.ProcessRecords(ctx, consumer.ProcessRecordsInput{Records: rs, Checkpointer: benchCheckpointer{}}); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.ShutdownRequested(ctx, consumer.ShutdownRequestedInput{Checkpointer: benchCheckpointer{}}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				if cpu0 >= 0 {
					b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/record")
				}
			})
		}
	}
}

func benchS3(b *testing.B) sink.Destination {
	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true), gofakes3.WithLogger(gofakes3.DiscardLog()))
	srv := httptest.NewServer(faker.Server())
	b.Cleanup(srv.Close)
	client := s3.New(s3.Options{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
	})
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	return sink.NewS3(client, "bench")
}

// processCPU is the CPU time the process used so far, in nanoseconds (-1 if unknown).
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
