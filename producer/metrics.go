package producer

import (
	"context"
	"errors"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Stats is a snapshot of the producer's counters since New, for applications that do
// not use OpenTelemetry. The OpenTelemetry instruments of the same names report the
// same values.
type Stats struct {
	// UserRecordsReceived counts records accepted by Put.
	UserRecordsReceived int64
	// UserRecordsPending is how many records are buffered now: put, result not yet
	// delivered.
	UserRecordsPending int64
	// BufferedBytes is what the pending records are charged against MaxBufferedBytes.
	BufferedBytes int64
	// UserRecordsPut counts records written; UserRecordsDataPut their data bytes.
	UserRecordsPut     int64
	UserRecordsDataPut int64
	// KinesisRecordsPut counts Kinesis records written (an aggregate counts once);
	// KinesisRecordsDataPut their bytes (data plus partition key).
	KinesisRecordsPut     int64
	KinesisRecordsDataPut int64
	// UserRecordsFailed counts records whose result was an error, expired included.
	UserRecordsFailed int64
	// UserRecordsExpired counts records failed with ErrRecordExpired.
	UserRecordsExpired int64
	// UserRecordsReput counts user records put again after their aggregate landed on
	// a shard whose hash key range does not hold them (a reshard).
	UserRecordsReput int64
	// PutRecordsRequests counts PutRecords calls; Retries counts Kinesis records
	// queued for another attempt.
	PutRecordsRequests int64
	Retries            int64
	// ErrorsByCode counts failed attempts of Kinesis records by error code.
	ErrorsByCode map[string]int64
	// ShardMapRefreshes counts shard maps loaded.
	ShardMapRefreshes int64
	// Shards has one entry per shard of the current shard map, in hash key order.
	Shards []ShardStats
}

// ShardStats are the counters of one shard (see Stats).
type ShardStats struct {
	ShardID               string
	UserRecordsReceived   int64
	UserRecordsPut        int64
	UserRecordsDataPut    int64
	KinesisRecordsPut     int64
	KinesisRecordsDataPut int64
}

// counters are the producer-wide counters behind Stats.
type counters struct {
	pendingReceived atomic.Int64
	refreshes       int64 // guarded by mapMu
	expired         atomic.Int64
	reput           atomic.Int64
	failed          atomic.Int64
	retries         atomic.Int64
	requests        atomic.Int64
}

// shardStats are a shard's counters, updated once per Kinesis record.
type shardStats struct {
	userRecordsPut    atomic.Int64
	userDataPut       atomic.Int64
	kinesisRecordsPut atomic.Int64
	kinesisDataPut    atomic.Int64

	add    []metric.AddOption // stream and shard attributes
	record []metric.RecordOption
	obs    []metric.ObserveOption
}

// Stats returns a snapshot of the producer's counters.
func (p *Producer) Stats() Stats {
	st := Stats{
		UserRecordsPending: p.budget.records.Load(),
		BufferedBytes:      p.budget.bytes.Load(),
		UserRecordsFailed:  p.stats.failed.Load(),
		UserRecordsExpired: p.stats.expired.Load(),
		UserRecordsReput:   p.stats.reput.Load(),
		PutRecordsRequests: p.stats.requests.Load(),
		Retries:            p.stats.retries.Load(),
		ErrorsByCode:       p.metrics.errorCounts(),
	}
	p.mapMu.Lock()
	st.UserRecordsReceived = p.stats.pendingReceived.Load()
	st.ShardMapRefreshes = p.stats.refreshes
	all := make([]*shard, 0, len(p.registry))
	for _, s := range p.registry {
		all = append(all, s)
	}
	p.mapMu.Unlock()
	for _, s := range all {
		ss := s.snapshot()
		st.UserRecordsReceived += ss.UserRecordsReceived
		st.UserRecordsPut += ss.UserRecordsPut
		st.UserRecordsDataPut += ss.UserRecordsDataPut
		st.KinesisRecordsPut += ss.KinesisRecordsPut
		st.KinesisRecordsDataPut += ss.KinesisRecordsDataPut
	}
	if m := p.smap.Load(); m != nil {
		st.Shards = make([]ShardStats, len(m.shards))
		for i, s := range m.shards {
			st.Shards[i] = s.snapshot()
		}
	}
	return st
}

func (s *shard) snapshot() ShardStats {
	return ShardStats{
		ShardID:               s.id,
		UserRecordsReceived:   s.received.Load(),
		UserRecordsPut:        s.stats.userRecordsPut.Load(),
		UserRecordsDataPut:    s.stats.userDataPut.Load(),
		KinesisRecordsPut:     s.stats.kinesisRecordsPut.Load(),
		KinesisRecordsDataPut: s.stats.kinesisDataPut.Load(),
	}
}

// meterName is the instrumentation scope of the producer's metrics.
const meterName = "github.com/kinesis-go/kinesis/producer"

// metrics holds the OpenTelemetry instruments, named after the KPL metrics.
// Counters are observed from the producer's counters when the SDK collects, so the
// hot path makes no metric call per user record; histograms are recorded once per
// Kinesis record or per call.
type metrics struct {
	p      *Producer
	stream attribute.KeyValue
	add    []metric.AddOption
	record []metric.RecordOption
	obs    []metric.ObserveOption

	errorsByCode     metric.Int64Counter
	expiredCounter   metric.Int64Counter
	failedCounter    metric.Int64Counter
	retriesPerRecord metric.Int64Histogram
	bufferingTime    metric.Float64Histogram
	requestTime      metric.Float64Histogram
	userPerKinesis   metric.Int64Histogram
	userPerRequest   metric.Int64Histogram
	kinesisPerReq    metric.Int64Histogram

	reg metric.Registration
	// live is the producer whose counters the callback observes until Close; final
	// holds their last values from then on, so that a reader collecting after Close
	// (MeterProvider.Shutdown after Producer.Close) still exports them, and the closed
	// producer is not kept alive by the provider.
	live  atomic.Pointer[Producer]
	final atomic.Pointer[observedCounts]

	mu     sync.Mutex
	errors map[string]int64
}

func newMetrics(p *Producer) (*metrics, error) {
	meter := p.opts.MeterProvider.Meter(meterName)
	m := &metrics{p: p, stream: attribute.String("stream", p.stream), errors: make(map[string]int64)}
	set := attribute.NewSet(m.stream)
	m.add = []metric.AddOption{metric.WithAttributeSet(set)}
	m.record = []metric.RecordOption{metric.WithAttributeSet(set)}
	m.obs = []metric.ObserveOption{metric.WithAttributeSet(set)}

	var errs []error
	counter := func(name, unit, desc string) metric.Int64ObservableCounter {
		c, err := meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	received := counter("UserRecordsReceived", "{record}", "User records accepted by Put.")
	userPut := counter("UserRecordsPut", "{record}", "User records written.")
	userData := counter("UserRecordsDataPut", "By", "Data bytes of the user records written.")
	kinesisPut := counter("KinesisRecordsPut", "{record}", "Kinesis records written (an aggregate counts once).")
	kinesisData := counter("KinesisRecordsDataPut", "By", "Bytes of the Kinesis records written (data plus partition key).")
	pending, err := meter.Int64ObservableGauge("UserRecordsPending", metric.WithUnit("{record}"),
		metric.WithDescription("User records buffered: put, result not yet delivered."))
	errs = append(errs, err)

	m.errorsByCode, err = meter.Int64Counter("ErrorsByCode", metric.WithUnit("{record}"),
		metric.WithDescription("Failed attempts of Kinesis records by error code, and user records failed before any attempt by the code of the cause."))
	errs = append(errs, err)
	m.expiredCounter, err = meter.Int64Counter("UserRecordExpired", metric.WithUnit("{record}"),
		metric.WithDescription("User records failed because RecordTTL passed."))
	errs = append(errs, err)
	m.failedCounter, err = meter.Int64Counter("UserRecordsFailed", metric.WithUnit("{record}"),
		metric.WithDescription("User records whose result was an error, by the code of the failure (of its cause for an expiry)."))
	errs = append(errs, err)
	m.retriesPerRecord, err = meter.Int64Histogram("RetriesPerRecord", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries of each Kinesis record written, shared by its user records."),
		metric.WithExplicitBucketBoundaries(0, 1, 2, 3, 5, 10, 20, 50))
	errs = append(errs, err)
	m.bufferingTime, err = meter.Float64Histogram("BufferingTime", metric.WithUnit("ms"),
		metric.WithDescription("Time from Put of the oldest user record of a Kinesis record to its first send."))
	errs = append(errs, err)
	m.requestTime, err = meter.Float64Histogram("RequestTime", metric.WithUnit("ms"),
		metric.WithDescription("Duration of PutRecords calls."))
	errs = append(errs, err)
	m.userPerKinesis, err = meter.Int64Histogram("UserRecordsPerKinesisRecord", metric.WithUnit("{record}"),
		metric.WithDescription("User records in each Kinesis record written."),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
	errs = append(errs, err)
	m.userPerRequest, err = meter.Int64Histogram("UserRecordsPerPutRecordsRequest", metric.WithUnit("{record}"),
		metric.WithDescription("User records in each PutRecords call."),
		metric.WithExplicitBucketBoundaries(1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000))
	errs = append(errs, err)
	m.kinesisPerReq, err = meter.Int64Histogram("KinesisRecordsPerPutRecordsRequest", metric.WithUnit("{record}"),
		metric.WithDescription("Kinesis records in each PutRecords call."),
		metric.WithExplicitBucketBoundaries(1, 2, 5, 10, 20, 50, 100, 200, 500))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	m.reg, err = meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		c := m.final.Load()
		if c == nil {
			c = m.counts() // concurrent with Close, which stores the final counts after p's goroutines stopped
			if f := m.final.Load(); f != nil {
				c = f
			}
		}
		o.ObserveInt64(pending, c.pending, m.obs...)
		o.ObserveInt64(received, c.received, m.obs...) // before any shard was known
		for _, s := range c.shards {
			o.ObserveInt64(received, s.received, s.obs...)
			o.ObserveInt64(userPut, s.userPut, s.obs...)
			o.ObserveInt64(userData, s.userData, s.obs...)
			o.ObserveInt64(kinesisPut, s.kinesisPut, s.obs...)
			o.ObserveInt64(kinesisData, s.kinesisData, s.obs...)
		}
		return nil
	}, received, userPut, userData, kinesisPut, kinesisData, pending)
	if err != nil {
		return nil, err
	}
	m.live.Store(p)
	return m, nil
}

// initShard builds a shard's attribute sets once.
func (m *metrics) initShard(s *shard) {
	set := attribute.NewSet(m.stream, attribute.String("shard", s.id))
	s.stats.add = []metric.AddOption{metric.WithAttributeSet(set)}
	s.stats.record = []metric.RecordOption{metric.WithAttributeSet(set)}
	s.stats.obs = []metric.ObserveOption{metric.WithAttributeSet(set)}
}

// observedCounts are the values of the observable instruments.
type observedCounts struct {
	pending, received int64 // received: before any shard was known
	shards            []observedShard
}

type observedShard struct {
	obs                                                  []metric.ObserveOption
	received, userPut, userData, kinesisPut, kinesisData int64
}

// counts reads the producer's counters (zero after Close).
func (m *metrics) counts() *observedCounts {
	p := m.live.Load()
	if p == nil {
		return &observedCounts{}
	}
	c := &observedCounts{pending: p.budget.records.Load()}
	p.mapMu.Lock()
	c.received = p.stats.pendingReceived.Load()
	c.shards = make([]observedShard, 0, len(p.registry))
	for _, s := range p.registry {
		c.shards = append(c.shards, observedShard{
			obs:         s.stats.obs,
			received:    s.received.Load(),
			userPut:     s.stats.userRecordsPut.Load(),
			userData:    s.stats.userDataPut.Load(),
			kinesisPut:  s.stats.kinesisRecordsPut.Load(),
			kinesisData: s.stats.kinesisDataPut.Load(),
		})
	}
	p.mapMu.Unlock()
	return c
}

// close freezes the observed counters at their final values (the pipeline has
// stopped): the provider keeps exporting them until it shuts down.
func (m *metrics) close() {
	m.final.Store(m.counts())
	m.live.Store(nil)
	m.p = nil
}

// request records a PutRecords call.
func (m *metrics) request(b *batch, d time.Duration) {
	m.p.stats.requests.Add(1)
	ctx := context.Background()
	m.requestTime.Record(ctx, float64(d)/float64(time.Millisecond), m.record...)
	var users int64
	for _, k := range b.recs {
		users += int64(len(k.recs))
	}
	m.userPerRequest.Record(ctx, users, m.record...)
	m.kinesisPerReq.Record(ctx, int64(len(b.recs)), m.record...)
}

// buffered records how long k's oldest user record waited for its first send.
func (m *metrics) buffered(k *krec, d time.Duration) {
	m.bufferingTime.Record(context.Background(), float64(d)/float64(time.Millisecond), k.shard.stats.record...)
}

// written records a Kinesis record written.
func (m *metrics) written(k *krec) {
	ctx := context.Background()
	m.userPerKinesis.Record(ctx, int64(len(k.recs)), k.shard.stats.record...)
	m.retriesPerRecord.Record(ctx, int64(max(len(k.attempts)-1, 0)), k.shard.stats.record...)
}

// expired counts n expired user records of shard s (nil: not known).
func (m *metrics) expired(s *shard, n int64) {
	opts := m.add
	if s != nil {
		opts = s.stats.add
	}
	m.expiredCounter.Add(context.Background(), n, opts...)
}

// failed counts n user records of shard s (nil: not known) failed with code.
func (m *metrics) failed(code string, s *shard, n int64) {
	attrs := []attribute.KeyValue{m.stream, attribute.String("code", code)}
	if s != nil {
		attrs = append(attrs, attribute.String("shard", s.id))
	}
	m.failedCounter.Add(context.Background(), n, metric.WithAttributes(attrs...))
}

// errorCode counts n failed attempts with code (on shard s, nil for a whole call).
func (m *metrics) errorCode(code string, s *shard, n int64) {
	m.mu.Lock()
	m.errors[code] += n
	m.mu.Unlock()
	attrs := []attribute.KeyValue{m.stream, attribute.String("code", code)}
	if s != nil {
		attrs = append(attrs, attribute.String("shard", s.id))
	}
	m.errorsByCode.Add(context.Background(), n, metric.WithAttributes(attrs...))
}

func (m *metrics) errorCounts() map[string]int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.errors)
}
