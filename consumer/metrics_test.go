package consumer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// collect returns the int64 data points of every instrument, by name.
func collect(t *testing.T, reader *sdkmetric.ManualReader) (ints map[string][]metricdata.DataPoint[int64], hists map[string][]metricdata.HistogramDataPoint[float64]) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	ints = map[string][]metricdata.DataPoint[int64]{}
	hists = map[string][]metricdata.HistogramDataPoint[float64]{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != meterName {
			t.Errorf("instrumentation scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				ints[m.Name] = d.DataPoints
			case metricdata.Gauge[int64]:
				ints[m.Name] = d.DataPoints
			case metricdata.Histogram[float64]:
				hists[m.Name] = d.DataPoints
			}
		}
	}
	return ints, hists
}

func sum(points []metricdata.DataPoint[int64], key, value string) int64 {
	var n int64
	for _, p := range points {
		if key == "" {
			n += p.Value
			continue
		}
		if v, ok := p.Attributes.Value(attribute.Key(key)); ok && v.String() == value {
			n += p.Value
		}
	}
	return n
}

func TestMetricsAreNamedAfterKCLAndCarryShardAndWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		want := putRecords(t, fake, stream, 4, 50, "a")
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		r := newRecorder()
		c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1", func(o *Options) {
			o.MeterProvider = mp
			o.ApplicationName = "app"
		})...)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		stop := runConsumer(t, c)
		r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		// Three renewals of each of the two leases (every FailoverTime/3), and the take
		// cycle's gauges.
		renewal := c.opts.FailoverTime / renewalsPerFailover
		time.Sleep(time.Until(start.Add(3*renewal + renewal/2)))
		synctest.Wait()
		ints, hists := collect(t, reader)
		stop()
		if got := sum(ints["RenewLease.Success"], "success", "true"); got != 3*2 {
			t.Errorf("RenewLease.Success{success=true} = %d after 3.5 renewal intervals, want 3 renewals × 2 leases", got)
		}

		if got := sum(ints["RecordsProcessed"], "", ""); got != int64(len(want)) {
			t.Errorf("RecordsProcessed %d, want %d", got, len(want))
		}
		if sum(ints["RecordsProcessed"], "shard", "shardId-000000000000")+sum(ints["RecordsProcessed"], "shard", "shardId-000000000001") != int64(len(want)) {
			t.Errorf("RecordsProcessed lacks shard attributes: %+v", ints["RecordsProcessed"])
		}
		if sum(ints["RecordsProcessed"], "worker", "w1") != int64(len(want)) || sum(ints["RecordsProcessed"], "application", "app") != int64(len(want)) {
			t.Errorf("RecordsProcessed lacks worker/application attributes: %+v", ints["RecordsProcessed"])
		}
		var bytes int64
		for _, d := range want {
			bytes += int64(len(d))
		}
		if got := sum(ints["DataBytesProcessed"], "", ""); got != bytes {
			t.Errorf("DataBytesProcessed %d, want %d", got, bytes)
		}
		for name, want := range map[string]int64{"TakenLeases": 2, "CurrentLeases": 2, "NumWorkers": 1, "TotalLeases": 2, "LostLeases": 0} {
			if got := sum(ints[name], "", ""); got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
		if len(ints["MillisBehindLatest"]) != 2 {
			t.Errorf("MillisBehindLatest points %+v, want one per shard", ints["MillisBehindLatest"])
		}
		var batches uint64
		for _, p := range hists["RecordProcessor.processRecords.Time"] {
			batches += p.Count
		}
		if batches == 0 {
			t.Error("no RecordProcessor.processRecords.Time measurement")
		}
	})
}
