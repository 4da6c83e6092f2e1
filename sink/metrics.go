package sink

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// metrics are the sink's instruments (scope "github.com/kinesis-go/kinesis/sink").
type metrics struct {
	objects, bytes, records, failed, retries metric.Int64Counter
}

func newMetrics(mp metric.MeterProvider) (*metrics, error) {
	m := mp.Meter("github.com/kinesis-go/kinesis/sink")
	var ms metrics
	var err error
	counters := []struct {
		c          *metric.Int64Counter
		name, desc string
	}{
		{&ms.objects, "sink.ObjectsWritten", "objects written, error output included"},
		{&ms.bytes, "sink.BytesWritten", "bytes written, after compression"},
		{&ms.records, "sink.RecordsDelivered", "records written to the Prefix"},
		{&ms.failed, "sink.RecordsFailed", "records written to the error output"},
		{&ms.retries, "sink.WriteRetries", "failed attempts to write an object or a checkpoint, retried"},
	}
	for _, c := range counters {
		if *c.c, err = m.Int64Counter(c.name, metric.WithDescription(c.desc)); err != nil {
			return nil, err
		}
	}
	return &ms, nil
}

func add(c metric.Int64Counter, n int, attrs metric.MeasurementOption) {
	if n != 0 {
		c.Add(context.Background(), int64(n), attrs)
	}
}

func shardAttrs(stream, shard string) metric.MeasurementOption {
	return metric.WithAttributeSet(attribute.NewSet(attribute.String("stream", stream), attribute.String("shard", shard)))
}
