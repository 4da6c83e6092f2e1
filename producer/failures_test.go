package producer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// logRecorder is a slog.Handler that keeps every record.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// lines returns the records whose message is msg, with their attributes, their level
// and their time.
func (l *logRecorder) lines(msg string) []map[string]slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]slog.Value
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		attrs := map[string]slog.Value{"level": slog.StringValue(r.Level.String()), "time": slog.TimeValue(r.Time)}
		r.Attrs(func(a slog.Attr) bool {
			attrs[a.Key] = a.Value
			return true
		})
		out = append(out, attrs)
	}
	return out
}

// messages returns every message logged at level or above.
func (l *logRecorder) messages(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level >= level {
			out = append(out, r.Message)
		}
	}
	return out
}

// sumsByCode collects the int64 counters of the producer, summed per "code" attribute
// ("" for those without).
func sumsByCode(t *testing.T, reader *sdkmetric.ManualReader) map[string]map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	out := make(map[string]map[string]int64)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if d, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, dp := range d.DataPoints {
					code, _ := dp.Attributes.Value("code")
					if out[m.Name] == nil {
						out[m.Name] = make(map[string]int64)
					}
					out[m.Name][code.AsString()] += dp.Value
				}
			}
		}
	}
	return out
}

// With a wrong endpoint or no network the shard map never loads: the records expire
// at their TTL, and that must show like any failure of the send path: error lines
// (rate limited, with counts), the failure metrics, and warnings for the failing
// listings; the DescribeStreamSummary line says Kinesis cannot be reached.
func TestRecordsExpiringWithoutAShardMapAreLoggedAndCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logRecorder{}
		reader := sdkmetric.NewManualReader()
		provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		f := newFakeKinesis("s", 1)
		refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		f.listErr, f.descErr = refused, refused
		p, err := New(f, "s", func(o *Options) {
			o.Logger = slog.New(logs)
			o.MeterProvider = provider
			o.RecordTTL = time.Second
		})
		require.NoError(t, err)

		c := newCollector()
		start := time.Now()
		// A burst, another 15 s later, a third 2 s after that (within the log interval).
		for i := range 100 {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
		}
		time.Sleep(15 * time.Second)
		for i := 100; i < 150; i++ {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
		}
		time.Sleep(2 * time.Second)
		for i := 150; i < 200; i++ {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
		}
		time.Sleep(2 * time.Second)
		require.NoError(t, p.Close(context.Background()))

		for i, o := range c.exactlyOnce(t, 200) {
			require.ErrorIs(t, o.err, ErrRecordExpired, "record %d", i)
			require.ErrorIs(t, o.err, syscall.ECONNREFUSED, "record %d: the expiry wraps the listing's error", i)
		}

		// Error lines: the first expiry at once, the next within 10 s summed up once,
		// and none lost: they count all 200 records. Lines are at least logEvery
		// apart, but the last, which Close writes at 19 s.
		failed := logs.lines("kinesis producer: records failed")
		var logged int64
		var at []time.Duration
		for _, l := range failed {
			assert.Equal(t, "ERROR", l["level"].String())
			logged += l["records"].Int64()
			at = append(at, l["time"].Time().Sub(start))
		}
		assert.EqualValues(t, 200, logged, "every failed record is counted in the logs")
		require.Len(t, failed, 3, "burst 1 at once, burst 2 at once (15 s later), burst 3 summed up after the interval")
		assertFromArrival(t, time.Second, at[0], "the first expiry, at the TTL")
		assert.GreaterOrEqual(t, at[1]-at[0], logEvery)
		assert.Equal(t, 19*time.Second, at[2], "written by Close")

		listing := logs.lines("kinesis producer: listing the shards failed; retrying with backoff")
		require.NotEmpty(t, listing, "failing ListShards retries are logged")
		var failures int64
		for _, l := range listing {
			failures += l["failures"].Int64()
		}
		assert.Less(t, len(listing), int(failures), "rate limited: fewer lines than failures")
		assert.GreaterOrEqual(t, failures, int64(19), "about one listing per second for 19 s")

		summary := logs.messages(slog.LevelWarn)
		assert.Contains(t, summary, "kinesis producer: cannot reach Kinesis: DescribeStreamSummary failed; "+
			"records will wait for the shard map until Kinesis answers, and records above 1 MiB are refused "+
			"(check the client's endpoint, region and network)")

		sums := sumsByCode(t, reader)
		assert.EqualValues(t, 200, sums["UserRecordExpired"][""])
		assert.EqualValues(t, 200, sums["ErrorsByCode"]["ConnectionError"])
		assert.EqualValues(t, 200, sums["UserRecordsFailed"]["ConnectionError"])
		st := p.Stats()
		assert.EqualValues(t, 200, st.UserRecordsExpired)
		assert.EqualValues(t, 200, st.UserRecordsFailed)
		assert.EqualValues(t, 200, st.ErrorsByCode["ConnectionError"])
		require.NoError(t, provider.Shutdown(context.Background()))
	})
}

// A rateLog writes the first event at once, then at most one line per logEvery on
// the producer's clock, summing what came in between; close writes what is pending.
func TestRateLogWritesOneLinePerInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &logRecorder{}
		start := time.Now()
		l := newRateLog(slog.New(logs), func() int64 { return int64(time.Since(start)) + 1 },
			slog.LevelWarn, "m", "records")
		errA, errB := errors.New("a"), errors.New("b")
		at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }

		l.note(1, "A", errA) // 0 s: written at once
		at(time.Second)
		l.note(2, "B", errB) // held: the next line may come at 10 s
		at(4 * time.Second)
		l.note(3, "A", errA)
		at(25 * time.Second) // the 10 s line was written; nothing since: no line at 20 s
		l.note(4, "B", errB) // 15 s after the last line: written at once
		at(26 * time.Second)
		l.note(5, "A", errA) // held until 35 s, but close writes it at 30 s
		at(30 * time.Second)
		l.close()

		type line struct {
			at      time.Duration
			records int64
			codes   string
			err     string
		}
		var got []line
		for _, a := range logs.lines("m") {
			codes := ""
			if c, ok := a["codes"]; ok {
				codes = fmt.Sprint(c.Any())
			} else {
				codes = a["code"].String()
			}
			got = append(got, line{a["time"].Time().Sub(start), a["records"].Int64(), codes, a["error"].String()})
		}
		assert.Equal(t, []line{
			{0, 1, "A", "a"},
			{10 * time.Second, 5, "map[A:3 B:2]", "a"},
			{25 * time.Second, 4, "B", "b"},
			{30 * time.Second, 5, "map[A:5]", "a"},
		}, got)
	})
}
