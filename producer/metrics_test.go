package producer

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = provider.Shutdown(context.Background()) }()

	f := newFakeKinesis("s", 2)
	f.putHook = func(call int, in *kinesis.PutRecordsInput) ([]string, error) {
		if call == 1 {
			codes := make([]string, len(in.Records))
			codes[0] = "InternalFailure"
			return codes, nil
		}
		return nil, nil
	}
	p := newTestProducer(t, f, quiet, func(o *Options) { o.MeterProvider = provider })
	putAll(t, p, 1000)

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	sums := make(map[string]int64)
	counts := make(map[string]uint64)
	shards := make(map[string]map[string]bool)
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != meterName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					sums[m.Name] += dp.Value
					if v, ok := dp.Attributes.Value("shard"); ok {
						if shards[m.Name] == nil {
							shards[m.Name] = make(map[string]bool)
						}
						shards[m.Name][v.AsString()] = true
					}
					v, ok := dp.Attributes.Value("stream")
					assert.True(t, ok && v.AsString() == "s", "%s has the stream attribute", m.Name)
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					sums[m.Name] += dp.Value
				}
			case metricdata.Histogram[int64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
					sums[m.Name] += dp.Sum
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					counts[m.Name] += dp.Count
				}
			}
		}
	}
	assert.EqualValues(t, 1000, sums["UserRecordsReceived"])
	assert.EqualValues(t, 1000, sums["UserRecordsPut"])
	assert.Len(t, shards["UserRecordsPut"], 2, "per shard")
	assert.Positive(t, sums["KinesisRecordsPut"])
	assert.Positive(t, sums["UserRecordsDataPut"])
	assert.Positive(t, sums["KinesisRecordsDataPut"])
	assert.EqualValues(t, 0, sums["UserRecordsPending"])
	assert.EqualValues(t, 1, sums["ErrorsByCode"])
	assert.EqualValues(t, 1000, sums["UserRecordsPerKinesisRecord"])
	assert.EqualValues(t, sums["KinesisRecordsPut"], counts["UserRecordsPerKinesisRecord"])
	assert.EqualValues(t, 1, sums["RetriesPerRecord"])
	assert.Positive(t, counts["RequestTime"])
	assert.Positive(t, counts["BufferingTime"])
	assert.Greater(t, sums["UserRecordsPerPutRecordsRequest"], int64(1000), "the retried aggregate counts twice")

	st := p.Stats()
	assert.EqualValues(t, 1000, st.UserRecordsPut)
	assert.EqualValues(t, 1, st.ErrorsByCode["InternalFailure"])
	assert.EqualValues(t, 1, st.Retries)
}

// The usual shutdown order, Producer.Close then MeterProvider.Shutdown, exports the
// final values of the counters: a collection after Close still has them.
func TestMetricsAfterClose(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	f := newFakeKinesis("s", 2)
	p, err := New(f, "s", quiet, func(o *Options) { o.MeterProvider = provider })
	require.NoError(t, err)
	putAll(t, p, 300)
	require.NoError(t, p.Close(context.Background()))
	st := p.Stats()

	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	require.NoError(t, provider.Shutdown(context.Background()))
	got := make(map[string]int64)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			case metricdata.Gauge[int64]:
				got[m.Name] = 0
				for _, dp := range d.DataPoints {
					got[m.Name] += dp.Value
				}
			}
		}
	}
	assert.EqualValues(t, 300, got["UserRecordsReceived"])
	assert.EqualValues(t, 300, got["UserRecordsPut"])
	assert.Equal(t, st.UserRecordsDataPut, got["UserRecordsDataPut"])
	assert.Equal(t, st.KinesisRecordsPut, got["KinesisRecordsPut"])
	assert.Equal(t, st.KinesisRecordsDataPut, got["KinesisRecordsDataPut"])
	v, ok := got["UserRecordsPending"]
	assert.True(t, ok, "UserRecordsPending is exported after Close")
	assert.Zero(t, v)
}
