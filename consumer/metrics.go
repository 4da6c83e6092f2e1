package consumer

import (
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// meterName is the instrumentation scope of the consumer's instruments.
const meterName = "github.com/kinesis-go/kinesis/consumer"

// metrics holds the consumer's instruments, named after the KCL metrics.
type metrics struct {
	recordsProcessed metric.Int64Counter
	bytesProcessed   metric.Int64Counter
	millisBehind     metric.Int64Gauge
	processTime      metric.Float64Histogram
	currentLeases    metric.Int64Gauge
	totalLeases      metric.Int64Gauge
	expiredLeases    metric.Int64Gauge
	numWorkers       metric.Int64Gauge
	takenLeases      metric.Int64Counter
	lostLeases       metric.Int64Counter
	handoffs         metric.Int64Counter
	handoffTime      metric.Float64Histogram
	renewLease       metric.Int64Counter
	processorErrors  metric.Int64Counter
	readErrors       metric.Int64Counter

	recordsGivenUp  metric.Int64Counter
	retries         metric.Int64Counter
	bisections      metric.Int64Counter
	onFailureErrors metric.Int64Counter

	subscribe          metric.Int64Counter
	subscriptionErrors metric.Int64Counter

	worker attribute.Set // application, stream, worker
}

func newMetrics(mp metric.MeterProvider, application, stream, worker string) (*metrics, error) {
	m := mp.Meter(meterName)
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	gauge := func(name, unit, desc string) metric.Int64Gauge {
		g, err := m.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	hist, err := m.Float64Histogram("RecordProcessor.processRecords.Time", metric.WithUnit("ms"),
		metric.WithDescription("Time RecordProcessor.ProcessRecords took per batch, per shard."))
	errs = append(errs, err)
	handoffHist, err := m.Float64Histogram("LeaseHandoff.Time", metric.WithUnit("ms"),
		metric.WithDescription("Time from marking a lease for a handoff to this worker until it started processing it, per shard."))
	errs = append(errs, err)
	ms := &metrics{
		recordsProcessed:   counter("RecordsProcessed", "{record}", "User records delivered to and accepted by ProcessRecords, per shard."),
		bytesProcessed:     counter("DataBytesProcessed", "By", "Bytes of user record data accepted by ProcessRecords, per shard."),
		millisBehind:       gauge("MillisBehindLatest", "ms", "How far the last GetRecords result of a shard was behind the tip of the shard."),
		processTime:        hist,
		currentLeases:      gauge("CurrentLeases", "{lease}", "Leases held by the worker."),
		totalLeases:        gauge("TotalLeases", "{lease}", "Leases of unfinished shards in the lease table."),
		expiredLeases:      gauge("ExpiredLeases", "{lease}", "Leases the worker judged expired at its last scan."),
		numWorkers:         gauge("NumWorkers", "{worker}", "Live workers (owners of unexpired leases plus this one) at the last scan."),
		takenLeases:        counter("TakenLeases", "{lease}", "Leases taken by the worker (attribute stolen=true when taken from a live worker)."),
		lostLeases:         counter("LostLeases", "{lease}", "Leases the worker lost (taken by another worker or not renewed in time)."),
		handoffs:           counter("LeaseHandoffs", "{lease}", "Leases handed over to this worker, per shard, with attribute result=graceful (the old owner checkpointed and handed over) or forced (it did not finish within HandoffTimeout)."),
		handoffTime:        handoffHist,
		renewLease:         counter("RenewLease.Success", "{call}", "Lease renewals, with attribute success=true or false."),
		processorErrors:    counter("RecordProcessor.Errors", "{call}", "RecordProcessor calls that returned an error or panicked, per shard and method (they are retried)."),
		readErrors:         counter("ReadErrors", "{call}", "Failed GetShardIterator, GetRecords and SubscribeToShard calls, per shard, operation and AWS error code (they are retried); a shard that only fails is stuck."),
		recordsGivenUp:     counter("RecordsGivenUp", "{record}", "Records given up by the failure policy, per shard, with attribute reason=RetriesExhausted or RecordTooOld."),
		retries:            counter("RecordProcessor.Retries", "{call}", "Deliveries of records again after a failure that counts toward MaxRetries, per shard."),
		bisections:         counter("RecordProcessor.Bisections", "{split}", "Failed batches split in halves (BisectOnError), per shard."),
		onFailureErrors:    counter("OnFailure.Errors", "{call}", "OnFailure calls that returned an error or panicked, per shard (the hand-over is retried)."),
		subscribe:          counter("SubscribeToShard.Success", "{call}", "SubscribeToShard calls (enhanced fan-out), per shard, with attribute success=true or false."),
		subscriptionErrors: counter("SubscribeToShard.StreamErrors", "{subscription}", "Enhanced fan-out subscriptions that ended with an error after they started, per shard (they are renewed)."),
		worker: attribute.NewSet(
			attribute.String("application", application),
			attribute.String("stream", stream),
			attribute.String("worker", worker),
		),
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ms, nil
}

// shardAttrs returns the attribute set of a shard's measurements.
func (m *metrics) shardAttrs(shardID string, extra ...attribute.KeyValue) metric.MeasurementOption {
	kvs := append(m.worker.ToSlice(), attribute.String("shard", shardID))
	kvs = append(kvs, extra...)
	return metric.WithAttributeSet(attribute.NewSet(kvs...))
}

func (m *metrics) workerAttrs(extra ...attribute.KeyValue) metric.MeasurementOption {
	if len(extra) == 0 {
		return metric.WithAttributeSet(m.worker)
	}
	return metric.WithAttributeSet(attribute.NewSet(append(m.worker.ToSlice(), extra...)...))
}

// reasonAttrs returns the attributes of a shard's measurement about a given-up record.
func (s *shard) reasonAttrs(r FailureReason) metric.MeasurementOption {
	return s.w.m.shardAttrs(s.id, attribute.String("reason", string(r)))
}

var (
	attrSuccess = attribute.Bool("success", true)
	attrFailure = attribute.Bool("success", false)
)
