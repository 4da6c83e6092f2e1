package sink

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
)

func TestMetricsCountObjectsRecordsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		dest := newMemDest()
		dest.setFail(func(name string, attempt int) error {
			if attempt == 1 && !strings.HasPrefix(name, DefaultStatePrefix) {
				return errInjected
			}
			return nil
		})
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			o.Transform = func(r consumer.Record) ([]byte, error) {
				if string(r.Data) == "d2" {
					return nil, errInjected
				}
				return r.Data, nil
			}
		})
		process(t, p, &fakeCheckpointer{}, recs(1, 3, nil))
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					got[m.Name] += dp.Value
				}
			}
		}
		want := map[string]int64{"sink.ObjectsWritten": 2, "sink.RecordsDelivered": 2, "sink.RecordsFailed": 1, "sink.WriteRetries": 2}
		for name, v := range want {
			if got[name] != v {
				t.Errorf("%s = %d, want %d (all: %v)", name, got[name], v, got)
			}
		}
		if got["sink.BytesWritten"] == 0 {
			t.Error("sink.BytesWritten not counted")
		}
	})
}
