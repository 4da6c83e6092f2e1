package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/sirupsen/logrus"
	kclcheckpoint "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kclconfig "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"
	kclworker "github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllogger "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

const (
	libVMware = "vmware-kcl"

	consumeShards = 4
	// consumeInProcess is the backlog our consumer reads from the in-process
	// fake per op; consumeHTTP the backlog both consumers read over HTTP (fewer:
	// vmware-go-kcl-v2 reads at most 2 MB/s per shard, see BENCHMARKS.md).
	consumeInProcess = 1_000_000
	consumeHTTP      = 200_000

	// consumeDeadline bounds one pass; a consumer slower than this fails.
	consumeDeadline = 2 * time.Minute

	// vmwareShardSync is vmware-go-kcl-v2's ShardSyncIntervalMillis in these
	// benchmarks. Its worker takes at most one lease per event-loop turn and
	// sleeps 0.5-1.5x this interval between turns; with its default (60 s) a
	// 4-shard stream takes minutes to be picked up, so it is lowered.
	vmwareShardSync = 200
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// BenchmarkConsumer measures end-to-end consumption: one op is one pass of a
// fresh consumer (new lease table, TRIM_HORIZON) over a prefilled stream of
// aggregated 100-byte records on 4 shards, from Run/Start until every record
// was delivered to the processor (which checks each one and checkpoints each
// batch). rec/s and cpu-ns/rec are per user record.
//
//   - transport=inprocess: our consumer on the in-process fake (method calls)
//     with the in-memory lease store; the fake's CPU counts too.
//   - transport=http: the fake in a child process over HTTP, leases in the local
//     DynamoDB (dynalite), for our consumer and vmware-go-kcl-v2.
func BenchmarkConsumer(b *testing.B) {
	b.Run("transport=inprocess/lib=kinesis-go", func(b *testing.B) {
		// A fake of its own, dropped afterwards: its records must not count in
		// the peak heap of the other benchmarks of this process.
		fake := kinesistest.NewServer(b).Kinesis()
		stream := uniqueStream("consume")
		createStream(b, fake, stream, consumeShards)
		p := &prefilled{stream: stream, recs: newWorkload(consumeInProcess)}
		fillStream(b, fake, stream, p.recs)
		m := startMeter()
		b.ResetTimer()
		dup := 0.0
		for range b.N {
			b.StopTimer()
			m.pause()
			dup += consumeOurs(b, m, fake, p, checkpoint.NewMemory())
		}
		b.StopTimer()
		m.report(b, b.N*len(p.recs), false)
		b.ReportMetric(dup/float64(b.N), "dup-%")
	})
	for _, lib := range []string{libOurs, libVMware} {
		b.Run("transport=http/lib="+lib, func(b *testing.B) {
			env := localAWS(b)
			client, closeConns := newHTTPClient(sharedFake(b, modeStore).URL, nil)
			defer closeConns()
			p := prefill(b, "http", client, consumeShards, consumeHTTP)
			ddb := env.DynamoDB()
			m := startMeter()
			b.ResetTimer()
			dup := 0.0
			for range b.N {
				b.StopTimer()
				m.pause()
				table := testbed.UniqueName("bench")
				switch lib {
				case libOurs:
					store, err := checkpoint.NewDynamoDB(ddb, table, func(o *checkpoint.DynamoDBOptions) { o.Logger = quietLogger() })
					if err != nil {
						b.Fatal(err)
					}
					if err := store.EnsureTable(context.Background()); err != nil {
						b.Fatal(err)
					}
					dup += consumeOurs(b, m, client, p, store)
				case libVMware:
					dup += consumeVMware(b, m, ddb, client, p, table)
				}
				deleteTable(ddb, table)
			}
			b.StopTimer()
			m.report(b, b.N*len(p.recs), true)
			b.ReportMetric(dup/float64(b.N), "dup-%")
		})
	}
}

// consumeOurs runs one pass of our consumer over p, timed from Run until every
// record was delivered; it returns the duplicate percentage.
func consumeOurs(b *testing.B, m *meter, client consumer.Client, p *prefilled, store checkpoint.Store) float64 {
	chk := newChecker(p.recs)
	fn := func(_ context.Context, _ string, recs []consumer.Record) error {
		for i := range recs {
			chk.record(recs[i].PartitionKey, recs[i].Data)
		}
		return nil
	}
	c, err := consumer.New(client, p.stream, store, consumer.NewFunc(fn), func(o *consumer.Options) {
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.Logger = quietLogger()
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	m.resume()
	b.StartTimer()
	go func() { errc <- c.Run(ctx) }()
	select {
	case <-chk.done:
	case err := <-errc:
		b.Fatalf("Run returned early: %v", err)
	case <-time.After(consumeDeadline):
		b.Fatalf("%s: %d of %d records after %v", libOurs, chk.distinct.Load(), len(p.recs), consumeDeadline)
	}
	b.StopTimer()
	m.pause()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	return chk.check(b, libOurs)
}

// kclProcessor is a vmware-go-kcl-v2 record processor doing what our NewFunc
// processor does: check every record, checkpoint after each batch.
type kclProcessor struct{ chk *checker }

func (p *kclProcessor) Initialize(*kcl.InitializationInput) {}

func (p *kclProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	for i := range in.Records {
		p.chk.record(aws.ToString(in.Records[i].PartitionKey), in.Records[i].Data)
	}
	if n := len(in.Records); n > 0 {
		_ = in.Checkpointer.Checkpoint(in.Records[n-1].SequenceNumber)
	}
}

func (p *kclProcessor) Shutdown(in *kcl.ShutdownInput) {
	if in.ShutdownReason == kcl.TERMINATE {
		_ = in.Checkpointer.Checkpoint(nil)
	}
}

type kclFactory struct {
	chk  *checker
	init func(shardID string) // optional: called by Initialize
}

func (f *kclFactory) CreateProcessor() kcl.IRecordProcessor {
	if f.init != nil {
		return &kclTracked{kclProcessor{f.chk}, f.init}
	}
	return &kclProcessor{f.chk}
}

type kclTracked struct {
	kclProcessor
	init func(string)
}

func (p *kclTracked) Initialize(in *kcl.InitializationInput) { p.init(in.ShardId) }

func init() {
	// vmware-go-kcl-v2's shard consumers also log through logrus' global
	// logger, whatever the configured Logger; silence it like the others.
	logrus.SetOutput(io.Discard)
}

// silentKCLLogger discards vmware-go-kcl-v2's logs (its default logger writes
// every lease operation to stdout).
type silentKCLLogger struct{}

func (silentKCLLogger) Debugf(string, ...any)                          {}
func (silentKCLLogger) Infof(string, ...any)                           {}
func (silentKCLLogger) Warnf(string, ...any)                           {}
func (silentKCLLogger) Errorf(string, ...any)                          {}
func (silentKCLLogger) Fatalf(string, ...any)                          {}
func (silentKCLLogger) Panicf(string, ...any)                          {}
func (l silentKCLLogger) WithFields(kcllogger.Fields) kcllogger.Logger { return l }

// vmwareConfig is vmware-go-kcl-v2's configuration in these benchmarks: its
// defaults, TRIM_HORIZON, and vmwareShardSync.
func vmwareConfig(stream, table, workerID string) *kclconfig.KinesisClientLibConfiguration {
	creds := credentials.NewStaticCredentialsProvider("bench", "bench", "")
	return kclconfig.NewKinesisClientLibConfigWithCredential(table, stream, "us-east-1", workerID, creds).
		WithTableName(table).
		WithInitialPositionInStream(kclconfig.TRIM_HORIZON).
		WithShardSyncIntervalMillis(vmwareShardSync).
		WithLogger(silentKCLLogger{})
}

// newVMwareWorker returns a vmware-go-kcl-v2 worker on the given clients with
// its lease table created and ACTIVE.
func newVMwareWorker(b *testing.B, cfg *kclconfig.KinesisClientLibConfiguration, ddb *dynamodb.Client, kc *kinesis.Client, f kcl.IRecordProcessorFactory) *kclworker.Worker {
	cp := kclcheckpoint.NewDynamoCheckpoint(cfg).WithDynamoDB(ddb)
	if err := cp.Init(); err != nil {
		b.Fatal(err)
	}
	waitTable(b, ddb, cfg.TableName)
	return kclworker.NewWorker(f, cfg).WithKinesis(kc).WithCheckpointer(cp)
}

// consumeVMware is consumeOurs for vmware-go-kcl-v2.
func consumeVMware(b *testing.B, m *meter, ddb *dynamodb.Client, kc *kinesis.Client, p *prefilled, table string) float64 {
	chk := newChecker(p.recs)
	cfg := vmwareConfig(p.stream, table, "bench-worker")
	w := newVMwareWorker(b, cfg, ddb, kc, &kclFactory{chk: chk})
	m.resume()
	b.StartTimer()
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	select {
	case <-chk.done:
	case <-time.After(consumeDeadline):
		b.Fatalf("%s: %d of %d records after %v", libVMware, chk.distinct.Load(), len(p.recs), consumeDeadline)
	}
	b.StopTimer()
	m.pause()
	w.Shutdown()
	return chk.check(b, libVMware)
}

func waitTable(tb testing.TB, ddb *dynamodb.Client, table string) {
	tb.Helper()
	w := dynamodb.NewTableExistsWaiter(ddb, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := w.Wait(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(table)}, time.Minute); err != nil {
		tb.Fatal(fmt.Errorf("lease table %s: %w", table, err))
	}
}

func deleteTable(ddb *dynamodb.Client, table string) {
	_, _ = ddb.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
}
