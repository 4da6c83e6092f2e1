package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	a8m "github.com/a8m/kinesis-producer"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/kinesistest"
	"github.com/kinesis-go/kinesis/producer"
)

// The libraries in the producer comparison, as sub-benchmark names
// (lib=...); benchstat -col /lib puts them side by side.
const (
	libOurs       = "kinesis-go"
	libOursNoHTTP = "kinesis-go-nohttp"
	libA8m        = "a8m"
	libA8mNoHTTP  = "a8m-nohttp"
)

// noRateLimit is our producer's RateLimit in the comparison, in percent of the
// shard limits: high enough never to hold a record. The fake does not throttle
// and a8m has no rate limiter, so with the default (150%, about 15,000 100-byte
// records/s per shard) ours would measure its limiter, not its cost. On AWS both
// are bound by the shard limits (1 MiB/s and 1,000 Kinesis records/s per shard).
const noRateLimit = 1_000_000

// countingClient counts what reaches PutRecords: calls, Kinesis records and
// their payload (data plus partition key, what Kinesis meters per shard).
type countingClient struct {
	producer.Client
	calls, entries, payload, failed atomic.Int64
}

func (c *countingClient) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, optFns ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	out, err := c.Client.PutRecords(ctx, in, optFns...)
	if err != nil {
		return out, err
	}
	n := 0
	for i := range in.Records {
		n += len(in.Records[i].Data) + len(aws.ToString(in.Records[i].PartitionKey))
	}
	c.calls.Add(1)
	c.entries.Add(int64(len(in.Records)))
	c.payload.Add(int64(n))
	c.failed.Add(int64(aws.ToInt32(out.FailedRecordCount)))
	return out, err
}

func (c *countingClient) reset() {
	c.calls.Store(0)
	c.entries.Store(0)
	c.payload.Store(0)
	c.failed.Store(0)
}

// benchProducer is one library's producer behind a common face.
type benchProducer interface {
	put(r userRecord) error
	// close flushes, stops and returns how many records were confirmed
	// written (-1 when the library does not say) and how many failed.
	close() (ok, failed int64)
}

// ours is this module's producer, configured as a user would for a stream it
// owns: defaults, except RateLimit (see noRateLimit) and a quiet logger.
type ours struct {
	p          *producer.Producer
	ok, failed atomic.Int64
	done       func(producer.Result, error)
}

func newOurs(tb testing.TB, client producer.Client, stream string) *ours {
	p, err := producer.New(client, stream, func(o *producer.Options) {
		o.RateLimit = noRateLimit
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	})
	if err != nil {
		tb.Fatal(err)
	}
	o := &ours{p: p}
	o.done = func(_ producer.Result, err error) {
		if err != nil {
			o.failed.Add(1)
			return
		}
		o.ok.Add(1)
	}
	return o
}

func (o *ours) put(r userRecord) error {
	return o.p.Put(context.Background(), producer.Record{PartitionKey: r.pk, Data: r.data}, o.done)
}

// warmUp waits for the shard map and a first connection, outside the timer.
func (o *ours) warmUp(tb testing.TB, r userRecord) {
	if _, err := o.p.PutSync(context.Background(), producer.Record{PartitionKey: r.pk, Data: r.data}); err != nil {
		tb.Fatal(err)
	}
}

func (o *ours) close() (int64, int64) {
	if err := o.p.Close(context.Background()); err != nil {
		o.failed.Add(1)
	}
	return o.ok.Load(), o.failed.Load()
}

// theirs is github.com/a8m/kinesis-producer with its defaults (a silent
// logger: its default one prints a line per PutRecords call).
type theirs struct {
	p      *a8m.Producer
	failed atomic.Int64
	wg     sync.WaitGroup
}

type silentLogger struct{}

func (silentLogger) Info(string, ...a8m.LogValue)         {}
func (silentLogger) Error(string, error, ...a8m.LogValue) {}

func newTheirs(client producer.Client, stream string) *theirs {
	t := &theirs{p: a8m.New(&a8m.Config{StreamName: stream, Client: client, Logger: silentLogger{}})}
	failures := t.p.NotifyFailures()
	t.wg.Go(func() {
		for range failures { // closed by Stop
			t.failed.Add(1)
		}
	})
	t.p.Start()
	return t
}

func (t *theirs) put(r userRecord) error { return t.p.Put(r.data, r.pk) }

func (t *theirs) close() (int64, int64) {
	t.p.Stop()
	t.wg.Wait()
	return -1, t.failed.Load()
}

// BenchmarkProducer puts b.N records (one op is one user record) and waits until
// the producer has sent them all (Close / Stop), through the HTTP fake Kinesis
// of a child process. kinesis-go-nohttp is our producer on the in-process fake
// (method calls, no HTTP), whose own CPU then counts too.
func BenchmarkProducer(b *testing.B) {
	for _, shards := range []int{4, 64} {
		for _, lib := range []string{libOurs, libA8m, libOursNoHTTP, libA8mNoHTTP} {
			b.Run(fmt.Sprintf("shards=%d/lib=%s", shards, lib), func(b *testing.B) {
				benchProducerRun(b, lib, shards)
			})
		}
	}
}

func benchProducerRun(b *testing.B, lib string, shards int) {
	noHTTP := lib == libOursNoHTTP || lib == libA8mNoHTTP
	var v verdict
	if !noHTTP {
		v = verifyProducerOnce(b, lib, shards)
	}
	stream := uniqueStream("bench")
	wc := &wireCounter{}
	var cc *countingClient
	if noHTTP {
		fake := kinesistest.NewServer(b, func(o *kinesistest.Options) { o.DiscardData = true }).Kinesis()
		createStream(b, fake, stream, shards)
		cc = &countingClient{Client: fake}
	} else {
		client, closeConns := newHTTPClient(sharedFake(b, modeDiscard).URL, wc)
		b.Cleanup(closeConns)
		createStream(b, client, stream, shards)
		cc = &countingClient{Client: client}
	}
	pool := sharedPool()

	var p benchProducer
	switch lib {
	case libOurs, libOursNoHTTP:
		o := newOurs(b, cc, stream)
		o.warmUp(b, pool[0])
		o.ok.Store(0)
		p = o
	case libA8m, libA8mNoHTTP:
		p = newTheirs(cc, stream)
	}
	cc.reset()
	wc.putBytes.Store(0)

	b.ReportAllocs()
	m := startMeter()
	b.ResetTimer()
	for i := range b.N {
		if err := p.put(pool[i%putPool]); err != nil {
			b.Fatal(err)
		}
	}
	ok, failed := p.close()
	b.StopTimer()
	m.report(b, b.N, true)

	if failed != 0 || cc.failed.Load() != 0 || ok >= 0 && ok != int64(b.N) {
		b.Fatalf("%s: %d of %d records confirmed, %d failed, %d PutRecords entries failed", lib, ok, b.N, failed, cc.failed.Load())
	}
	n := float64(b.N)
	if !noHTTP {
		b.ReportMetric(float64(wc.putBytes.Load())/n, "wire-B/rec")
	}
	b.ReportMetric(float64(cc.payload.Load())/n, "kinesis-B/rec")
	if e := cc.entries.Load(); e > 0 {
		b.ReportMetric(n/float64(e), "rec/kinesis-rec")
	}
	if c := cc.calls.Load(); c > 0 {
		b.ReportMetric(n/float64(c), "rec/call")
	}
	if !noHTTP {
		v.report(b)
	}
}
