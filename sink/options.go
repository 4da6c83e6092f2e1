package sink

import (
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/kinesis-go/kinesis/consumer"
)

// Options configures a sink. The zero value of every field means its documented
// default; New resolves and validates them once.
type Options struct {
	// StreamName is the stream's name, the first part of every object name. Required.
	StreamName string

	// Prefix is the object name prefix, in Firehose's syntax: text and the expressions
	// !{timestamp:PATTERN} (a Java DateTimeFormatter pattern such as yyyy/MM/dd, applied
	// to the arrival time of the object's first record, in UTC),
	// !{firehose:random-string} (11 characters derived from the object, so a rewritten
	// object keeps its name), !{partitionKeyFromQuery:KEY} (PartitionKeyQueries) and
	// !{partitionKeyFromLambda:KEY} (PartitionKeyFunc). A prefix without expressions gets
	// Firehose's time folders yyyy/MM/dd/HH/ appended; so does the default, "".
	Prefix string

	// ErrorOutputPrefix is where records that Transform rejects, whose partition keys
	// cannot be extracted or that the Format cannot encode are written (JSON lines, one
	// object per error type and batch, described at ErrorRecord), in Firehose's
	// syntax; with expressions it must contain !{firehose:error-output-type}. Default:
	// the Prefix followed by !{firehose:error-output-type}/ and the time folders when the
	// Prefix has no expressions, else !{firehose:error-output-type}/ and the time folders.
	ErrorOutputPrefix string

	// PartitionKeyQueries extracts the !{partitionKeyFromQuery:KEY} values from records
	// holding JSON objects: KEY maps to a field path such as .customer_id or .type.device
	// (the jq paths Firehose's inline parsing examples use). A value must be a string,
	// number or boolean, non-empty and without slashes; a record where one is missing or
	// unusable goes to the error output.
	PartitionKeyQueries map[string]string

	// PartitionKeyFunc returns the !{partitionKeyFromLambda:KEY} values of a record (the
	// part Firehose gives to a Lambda function). It is called once per record, from the
	// shard's goroutine, and must be deterministic: the same record gives the same keys.
	// An error, or a missing or unusable value, sends the record to the error output.
	PartitionKeyFunc func(r consumer.Record) (map[string]string, error)

	// Transform, when set, turns each record into the data written (Firehose's data
	// transformation). An error rejects the record into the error output
	// (processing-failed); it is not retried. It must be deterministic, like
	// PartitionKeyFunc. Default: the record's data as is.
	Transform func(r consumer.Record) ([]byte, error)

	// Format encodes objects. Default Lines(Delimiter): the data of each record followed
	// by the delimiter. Use package sink/parquet for Parquet.
	Format Format

	// Delimiter follows each record in the default Format. Default "\n" (JSON lines).
	// Set NoDelimiter to write records back to back, or any other bytes.
	Delimiter []byte

	// Compression compresses object bodies: CompressionNone (the default),
	// CompressionGzip or CompressionZstd. Parquet compresses its columns itself: keep
	// CompressionNone with it.
	Compression Compression

	// BufferSize is the size, in bytes of data before compression, at which a partition's
	// buffer is written (Firehose's buffering size hint, without its 1-128 MiB range).
	// Default 5 MiB, Firehose's default. Raise it for fewer, larger objects; a shard holds
	// up to MaxBufferedBytes in memory.
	BufferSize int

	// BufferInterval is the longest a record waits in the buffer: the buffers of a shard
	// are written at most this long after the first record of the batch was received
	// (Firehose's buffering interval hint, without its 0-900 s range). Default 300 s,
	// Firehose's default. Lower it for fresher data and more, smaller objects.
	BufferInterval time.Duration

	// MaxBufferedBytes bounds the data a shard holds in all its partitions: reaching it
	// writes every buffer of the shard. It matters with many partitions per shard.
	// Default 4 × BufferSize.
	MaxBufferedBytes int

	// WriteTimeout bounds each attempt to write an object; a slower attempt is cancelled
	// and tried again. Default 2 minutes. Raise it for very large objects on slow links.
	WriteTimeout time.Duration

	// MaxRetryBackoff caps the exponential backoff (from 100 ms, jittered) between
	// attempts of a failed write or checkpoint. Failed writes are retried until they
	// succeed or the lease is lost: records are never dropped and the shard waits.
	// Default 30 s.
	MaxRetryBackoff time.Duration

	// WriteConcurrency is how many objects of one shard are written at once. Default 8.
	WriteConcurrency int

	// StatePrefix is where the sink keeps one small state object per shard (the range of
	// the batch being written, so that a restart cuts the same objects). Default
	// "_kinesis-sink/" (names starting with _ are skipped by Athena, Glue and Spark).
	StatePrefix string

	// Logger receives the sink's logs (failed writes, rejected records). Default
	// slog.Default().
	Logger *slog.Logger

	// MeterProvider provides the meter for the sink's metrics (see the package
	// documentation). Default: a no-op provider.
	MeterProvider metric.MeterProvider
}

// NoDelimiter is the Delimiter that writes records back to back.
var NoDelimiter = []byte{}

// Default values of Options.
const (
	DefaultBufferSize       = 5 << 20
	DefaultBufferInterval   = 300 * time.Second
	DefaultWriteTimeout     = 2 * time.Minute
	DefaultMaxRetryBackoff  = 30 * time.Second
	DefaultWriteConcurrency = 8
	DefaultStatePrefix      = "_kinesis-sink/"
)

// config is the resolved Options.
type config struct {
	Options
	prefixes prefixes
	queries  map[string]jsonQuery
}

func resolve(optFns []func(*Options)) (*config, error) {
	var c config
	for _, fn := range optFns {
		fn(&c.Options)
	}
	o := &c.Options
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if o.StreamName == "" {
		bad("StreamName is required: it names the stream in object names")
	}
	if o.Delimiter == nil {
		o.Delimiter = []byte("\n")
	}
	if o.Format == nil {
		o.Format = Lines(o.Delimiter)
	}
	if o.Compression == "" {
		o.Compression = CompressionNone
	}
	if err := o.Compression.validate(); err != nil {
		errs = append(errs, err)
	}
	ints := []struct {
		name string
		v    *int
		def  int
	}{
		{"BufferSize", &o.BufferSize, DefaultBufferSize},
		{"WriteConcurrency", &o.WriteConcurrency, DefaultWriteConcurrency},
		{"MaxBufferedBytes", &o.MaxBufferedBytes, 0},
	}
	for _, f := range ints {
		switch {
		case *f.v < 0:
			bad("%s is negative (%d); use 0 for the default", f.name, *f.v)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	if o.MaxBufferedBytes == 0 {
		o.MaxBufferedBytes = 4 * o.BufferSize
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"BufferInterval", &o.BufferInterval, DefaultBufferInterval},
		{"WriteTimeout", &o.WriteTimeout, DefaultWriteTimeout},
		{"MaxRetryBackoff", &o.MaxRetryBackoff, DefaultMaxRetryBackoff},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			bad("%s is negative (%v); use 0 for the default", d.name, *d.v)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	if o.StatePrefix == "" {
		o.StatePrefix = DefaultStatePrefix
	}
	c.queries = make(map[string]jsonQuery, len(o.PartitionKeyQueries))
	for k, q := range o.PartitionKeyQueries {
		jq, err := parseJSONQuery(q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.queries[k] = jq
	}
	p, err := resolvePrefixes(o.Prefix, o.ErrorOutputPrefix, o.PartitionKeyQueries, o.PartitionKeyFunc != nil)
	if err != nil {
		errs = append(errs, err)
	}
	c.prefixes = p
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = noop.NewMeterProvider()
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, joinErrors(errs))
	}
	return &c, nil
}

// joinErrors joins errs on one line.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	msg := errs[0].Error()
	for _, e := range errs[1:] {
		msg += "; " + e.Error()
	}
	return fmt.Errorf("%s", msg)
}
