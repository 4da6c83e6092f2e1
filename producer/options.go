package producer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// Defaults of Options, the KPL's where the KPL has the option.
const (
	DefaultAggregationMaxSize      = 51200
	DefaultAggregationMaxCount     = 4294967295
	DefaultCollectionMaxCount      = 500
	DefaultCollectionMaxSize       = 5 << 20
	DefaultRecordMaxBufferedTime   = 100 * time.Millisecond
	DefaultRecordTTL               = 30 * time.Second
	DefaultRateLimit               = 150
	DefaultMaxConnections          = 24
	DefaultRequestTimeout          = 6 * time.Second
	DefaultMaxBufferedRecords      = 500_000
	DefaultMaxBufferedBytes        = 64 << 20
	DefaultShardMapRefreshInterval = time.Minute
)

// Limits of the Kinesis service that bound Options.
const (
	maxPutRecordsCount  = 500      // entries per PutRecords call
	maxPutRecordsSize   = 10 << 20 // bytes per PutRecords call, with raised record sizes
	defaultMaxRecord    = 1 << 20  // a stream's max record size unless raised
	maxPartitionKeyLen  = 256      // Unicode characters
	shardRecordsPerSec  = 1000     // provisioned write limit per shard
	shardBytesPerSec    = 1 << 20
	minRecordTTL        = 100 * time.Millisecond
	minAggregationSize  = 64
	maxAggregationSize  = 10 << 20
	maxMaxConnections   = 256
	minShardMapInterval = time.Second
)

// Options configures a Producer. The zero value of every field means its documented
// default (the KPL's default where the KPL has the option); New resolves the defaults
// and validates the result once. Pass option functions to New to change fields:
//
//	p, err := producer.New(client, "my-stream", func(o *producer.Options) {
//		o.RecordMaxBufferedTime = 20 * time.Millisecond
//	})
type Options struct {
	// DisableAggregation sends every user record as its own Kinesis record. By default
	// (false) user records that map to the same shard are packed into KPL aggregated
	// records, which every KCL-compatible consumer (including this module's) unpacks.
	// Aggregation multiplies the records/s a shard accepts (a shard takes 1,000 Kinesis
	// records/s): disable it only when consumers cannot deaggregate.
	DisableAggregation bool

	// AggregationMaxSize is the largest encoded aggregated record in bytes (KPL
	// AggregationMaxSize). Default 51,200; range 64 to 10 MiB, and never more than the
	// stream's max record size. A user record bigger than this is sent on its own.
	// Larger aggregates mean fewer Kinesis records and requests but more data resent
	// when one fails.
	AggregationMaxSize int

	// AggregationMaxCount is the most user records in one aggregated record. Default
	// 4,294,967,295 (no practical limit: AggregationMaxSize decides).
	AggregationMaxCount int

	// CollectionMaxCount is the most Kinesis records in one PutRecords call. Default
	// 500, the service maximum; range 1..500.
	CollectionMaxCount int

	// CollectionMaxSize is the most bytes (data plus partition keys) in one PutRecords
	// call. Default 5 MiB, the classic service limit; at most 10 MiB (for streams whose
	// max record size was raised). A record bigger than this is sent alone.
	CollectionMaxSize int

	// RecordMaxBufferedTime is how long a user record may wait for others to share its
	// aggregated record and PutRecords call before it is sent. Default 100 ms. Lower it
	// for latency, raise it for fewer, fuller requests. A negative value means no wait:
	// records are sent as soon as the pipeline gets to them.
	RecordMaxBufferedTime time.Duration

	// RecordTTL is how long a user record may take from Put to success, retries
	// included. When it passes, the record fails with an error wrapping
	// ErrRecordExpired and the last failure's cause. Default 30 s; at least 100 ms.
	RecordTTL time.Duration

	// RateLimit caps what the producer sends to each shard, as a percentage of the
	// shard's provisioned limits (1,000 records/s and 1 MiB/s). Default 150: slightly
	// above the limit, so that a shard is used fully while the service throttles the
	// excess, as the KPL does. Lower it (e.g. 100) when several producers share a
	// stream; raise it for on-demand streams whose shards accept more. Each shard also
	// backs off further while Kinesis throttles it.
	RateLimit int

	// FailIfThrottled fails a user record as soon as Kinesis throttles it
	// (ProvisionedThroughputExceededException) instead of retrying it. Default false.
	FailIfThrottled bool

	// MaxConnections is the most PutRecords calls in flight at once. Default 24;
	// range 1..256. The HTTP client of the Kinesis client must allow as many connections
	// per host (the SDK default does).
	MaxConnections int

	// RequestTimeout bounds each PutRecords, ListShards and DescribeStreamSummary call.
	// Default 6 s. A PutRecords call that times out fails with ErrRequestTimeout and is
	// retried; it may have been written, so each of its Kinesis records may be written
	// twice, and with aggregation that is every user record of the aggregate (the
	// attempt is marked Ambiguous). To keep calls well within it on a slow endpoint, the
	// producer bounds the bytes of the calls in flight by the throughput it observes
	// (about a quarter of RequestTimeout's worth) and makes calls smaller to match:
	// a slow endpoint gets fewer, smaller calls rather than calls that time out.
	RequestTimeout time.Duration

	// MaxBufferedRecords is the most user records the producer holds at once, from Put
	// until their callback has returned. A Put that would exceed it blocks until there is
	// room or its context ends. Default 500,000.
	MaxBufferedRecords int

	// MaxBufferedBytes bounds the memory held for buffered user records: each is charged
	// its data, partition key and explicit hash key plus RecordOverhead bytes of
	// bookkeeping, from Put until its callback has returned. A Put that would exceed it
	// blocks until there is room or its context ends. Default 64 MiB. A single record
	// bigger than the whole budget is let in when nothing else is buffered. The producer's
	// heap stays within about this budget plus the bodies of the PutRecords calls in
	// flight (4/3 of CollectionMaxSize per connection at most; see the package
	// documentation on memory).
	MaxBufferedBytes int64

	// PreserveOrder writes the records of each shard in the order they were Put, also
	// across retries and throttling: at most one PutRecords call per shard is in flight,
	// it carries one Kinesis record of the shard, and a failed record is retried before
	// any newer one. While a shard's call is in flight, the records that wait for the
	// shard fill its next aggregate (up to AggregationMaxSize) even after
	// RecordMaxBufferedTime, so that a slow endpoint means fuller aggregates rather than
	// a backlog of small ones. Default false: records are written as fast as possible and
	// a retried record may land after newer ones. See the package documentation on
	// ordering.
	PreserveOrder bool

	// ShardMapRefreshInterval is how often the shard map is listed again even when
	// nothing suggests a reshard. Default 1 minute; at least 1 s; negative disables the
	// periodic refresh (records landing on an unexpected shard still trigger one).
	ShardMapRefreshInterval time.Duration

	// Logger receives warnings (throttling, retries, shard map changes) and errors
	// (records failed). Default slog.Default(), so they are visible without setup.
	Logger *slog.Logger

	// MeterProvider provides the OpenTelemetry meter for the producer's metrics, named
	// after the KPL metrics (see the package documentation). Default: a no-op provider.
	MeterProvider metric.MeterProvider
}

// RecordOverhead is the bookkeeping charged per buffered user record against
// Options.MaxBufferedBytes, on top of its data and keys: the producer's internal record,
// its place in an aggregate and in a request.
const RecordOverhead = 256

// ErrInvalidOptions is wrapped by the errors New returns for Options out of range.
var ErrInvalidOptions = errors.New("producer: invalid options")

func (o *Options) resolve() error {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.AggregationMaxSize, DefaultAggregationMaxSize)
	def(&o.AggregationMaxCount, min(DefaultAggregationMaxCount, int(^uint(0)>>1)))
	def(&o.CollectionMaxCount, DefaultCollectionMaxCount)
	def(&o.CollectionMaxSize, DefaultCollectionMaxSize)
	def(&o.RateLimit, DefaultRateLimit)
	def(&o.MaxConnections, DefaultMaxConnections)
	def(&o.MaxBufferedRecords, DefaultMaxBufferedRecords)
	switch {
	case o.RecordMaxBufferedTime == 0:
		o.RecordMaxBufferedTime = DefaultRecordMaxBufferedTime
	case o.RecordMaxBufferedTime < 0:
		o.RecordMaxBufferedTime = 0
	}
	if o.RecordTTL == 0 {
		o.RecordTTL = DefaultRecordTTL
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.MaxBufferedBytes == 0 {
		o.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if o.ShardMapRefreshInterval == 0 {
		o.ShardMapRefreshInterval = DefaultShardMapRefreshInterval
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = noop.NewMeterProvider()
	}

	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
		}
	}
	check(o.AggregationMaxSize >= minAggregationSize && o.AggregationMaxSize <= maxAggregationSize,
		"AggregationMaxSize %d is outside %d..%d", o.AggregationMaxSize, minAggregationSize, maxAggregationSize)
	check(o.AggregationMaxCount >= 1, "AggregationMaxCount %d must be at least 1", o.AggregationMaxCount)
	check(o.CollectionMaxCount >= 1 && o.CollectionMaxCount <= maxPutRecordsCount,
		"CollectionMaxCount %d is outside 1..%d", o.CollectionMaxCount, maxPutRecordsCount)
	check(o.CollectionMaxSize >= 1 && o.CollectionMaxSize <= maxPutRecordsSize,
		"CollectionMaxSize %d is outside 1..%d", o.CollectionMaxSize, maxPutRecordsSize)
	check(o.RecordTTL >= minRecordTTL, "RecordTTL %v is below %v", o.RecordTTL, minRecordTTL)
	check(o.RateLimit >= 1, "RateLimit %d must be at least 1 (percent of the shard limits)", o.RateLimit)
	check(o.MaxConnections >= 1 && o.MaxConnections <= maxMaxConnections,
		"MaxConnections %d is outside 1..%d", o.MaxConnections, maxMaxConnections)
	check(o.RequestTimeout > 0, "RequestTimeout %v must be positive", o.RequestTimeout)
	check(o.MaxBufferedRecords >= 1, "MaxBufferedRecords %d must be at least 1", o.MaxBufferedRecords)
	check(o.MaxBufferedBytes >= 1, "MaxBufferedBytes %d must be at least 1", o.MaxBufferedBytes)
	check(o.ShardMapRefreshInterval < 0 || o.ShardMapRefreshInterval >= minShardMapInterval,
		"ShardMapRefreshInterval %v is below %v (negative disables it)", o.ShardMapRefreshInterval, minShardMapInterval)
	return errors.Join(errs...)
}
