package consumer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// InitialPosition is where a brand-new lease starts reading: the position written into a
// lease the consumer creates for a shard that has no processed ancestor. Shards whose
// parent was processed always start at TRIM_HORIZON (AT_TIMESTAMP when that is the
// initial position), so nothing written to a child is skipped.
type InitialPosition string

const (
	// InitialPositionLatest starts after the newest record at the time the shard is
	// first read: records put before the application first started are not processed.
	// The KCL default.
	InitialPositionLatest InitialPosition = "LATEST"
	// InitialPositionTrimHorizon starts at the oldest record still retained.
	InitialPositionTrimHorizon InitialPosition = "TRIM_HORIZON"
	// InitialPositionAtTimestamp starts at the first record put at or after
	// Options.InitialTimestamp.
	InitialPositionAtTimestamp InitialPosition = "AT_TIMESTAMP"
)

// Balancing is how workers decide which leases to steal from each other.
type Balancing string

const (
	// BalanceByThroughput evens out the workers' throughput: each lease's owner reports
	// the bytes/s its processor accepted (smoothed; the lease's throughputKBps, as in KCL
	// 3.x) and a worker steals the lease that brings it and the busiest worker closest,
	// when that improves the busier one by more than 5% (so measurement noise never
	// moves leases back and forth). Two hot shards end on different workers; leases
	// without traffic are never moved for throughput. While no lease reports throughput
	// (an idle stream) it balances lease counts. The default.
	BalanceByThroughput Balancing = "THROUGHPUT"
	// BalanceByLeaseCount gives every worker the same number of leases (within one),
	// whatever their traffic: the KCL 2.x behaviour. Pick it when shards carry similar
	// load, or processing cost does not follow bytes.
	BalanceByLeaseCount Balancing = "LEASE_COUNT"
)

// Retrieval is how the consumer reads records from the shards it holds.
type Retrieval string

const (
	// RetrievalPolling reads each shard with GetShardIterator and GetRecords. The
	// default. Every application reading a stream shares the shard's 2 MiB/s and 5
	// GetRecords calls/s; latency is about IdleTimeBetweenReads on quiet shards. No
	// extra charge and no extra permissions. Pick it when one or two applications read
	// the stream and a second of latency is fine.
	RetrievalPolling Retrieval = "POLLING"
	// RetrievalFanOut uses enhanced fan-out: the consumer registers a stream consumer
	// (Options.ConsumerName) and Kinesis pushes each shard's records over SubscribeToShard,
	// with its own 2 MiB/s per shard for this application and about 70 ms latency. It is
	// billed per consumer-shard hour and per GB retrieved, needs the fan-out permissions
	// (see the package documentation) and a client implementing FanOutClient (such as
	// *kinesis.Client), and a stream has at most 20 registered consumers. Pick it when
	// several applications read the same stream, or for low latency.
	RetrievalFanOut Retrieval = "FANOUT"
)

// Options configures a Consumer. The zero value of every field means its documented
// default; New resolves and validates them once.
type Options struct {
	// ApplicationName names the consuming application in logs and metrics (the attribute
	// "application"). The lease table is the Store given to New, so the name does not
	// select it. Default: the stream name.
	ApplicationName string

	// WorkerID identifies this worker in the lease table (leaseOwner). It must be unique
	// among the workers sharing the table: two workers with the same id would both
	// believe they hold the same leases. Default: the host name plus a random suffix, so
	// a restarted process is a new worker.
	WorkerID string

	// InitialPosition is where leases created for shards without a processed ancestor
	// start. Default InitialPositionLatest (as the KCL). Use InitialPositionTrimHorizon
	// to process what the stream already holds. It only matters the first time a shard
	// gets a lease: afterwards the checkpoint decides.
	InitialPosition InitialPosition

	// InitialTimestamp is the start time for InitialPositionAtTimestamp (required then,
	// ignored otherwise).
	InitialTimestamp time.Time

	// FailoverTime is the lease duration: a lease whose counter has not changed for this
	// long, by the observing worker's own clock, is expired and may be taken by another
	// worker. Held leases are renewed every FailoverTime/3, and a worker that could not
	// renew a lease for FailoverTime stops processing it. Default 10s (the KCL's). Lower
	// it for faster takeover after a crash (more DynamoDB writes: each held lease costs
	// 3 writes per FailoverTime); raise it when workers can pause for long (GC, CPU
	// starvation) and lose leases needlessly.
	FailoverTime time.Duration

	// LeaseTakeInterval is how often the worker scans the lease table to take available
	// and expired leases and to steal from overloaded workers; it also scans at once when
	// it starts and when one of its shards ends. A lease released by a worker that shuts
	// down gracefully is taken at the next scan, so this bounds the handover time.
	//
	// Default 0: adaptive. After each scan the next one is due after
	// clamp(leases × LeaseTakeIntervalPerLease, min(1s, FailoverTime/2), FailoverTime/2),
	// where leases is the number of leases the last scan returned (see
	// AdaptiveLeaseTakeInterval). Small tables keep a 1 s scan and a graceful handover
	// under 2 s; large tables are scanned less often. The cost: a Scan is strongly
	// consistent and reads every item (about 300 bytes a lease), 1 read unit per 4 KB, so
	// a scan of n leases costs about n/13 read units. At a fixed 1 s, 1,000 leases read by
	// 50 workers would cost about 75 units per scan, 3,750 read units per second. With the
	// adaptive interval each worker reads at most about 300 bytes per 10 ms (about 8 read
	// units per second) whatever the table size, until the FailoverTime/2 cap: 1,000
	// leases are scanned every 5 s with the defaults, 50 workers × 75 units / 5 s = 750
	// units per second. A graceful handover then takes up to one interval (up to
	// FailoverTime/2); a crash takeover takes FailoverTime plus up to one interval either way.
	//
	// Set it to override the adaptive default with a fixed interval (for example 1s to
	// keep fast handovers on a large table, or longer to save more reads).
	LeaseTakeInterval time.Duration

	// MaxLeasesForWorker caps how many leases this worker holds. Default 0: no cap.
	// Set it to protect a worker from taking more shards than it can process when the
	// fleet shrinks; leases beyond the fleet's total capacity then stay unprocessed.
	MaxLeasesForWorker int

	// Balancing selects how workers balance leases between them: BalanceByThroughput
	// (the default) or BalanceByLeaseCount. Every worker of an application should use the
	// same. A lease that moved to its owner within about FailoverTime (recorded in the
	// lease table) is never stolen, so a shard that just failed over (or a worker that
	// restarts) does not move twice in a row.
	Balancing Balancing

	// HandoffTimeout bounds a graceful lease handoff. A worker that steals a lease (to
	// balance) marks it first; the owner finishes the batch in progress, calls
	// ShutdownRequested (where the processor checkpoints) and hands the lease over, so a
	// planned move processes nothing twice. If the owner has not finished after
	// HandoffTimeout (it is stuck, or dead), the lease is taken by force and the records
	// since its last checkpoint are processed again. Default 5s, well below the
	// KCL 3.x's 30 s; raise it when ProcessRecords can take longer than that. Only
	// stores implementing checkpoint.HandoffStore (DynamoDB, Memory) hand over gracefully.
	HandoffTimeout time.Duration

	// DisableGracefulHandoff makes every lease move immediate, as in KCL 2.x: the owner
	// learns of the move when its next write fails, its processor gets LeaseLost and the
	// records since the last checkpoint are processed again by the new owner. Default
	// false.
	DisableGracefulHandoff bool

	// ShardSyncInterval is how often the worker lists the stream's shards to create
	// leases for new shards (after a reshard by another application or when a child lease
	// could not be created at a shard's end). Shard ends discovered while reading create
	// child leases at once, so this is a safety net. Default 60s.
	ShardSyncInterval time.Duration

	// Retrieval selects polling (RetrievalPolling, the default) or enhanced fan-out
	// (RetrievalFanOut); see their documentation for when to pick which. The processor
	// contract, checkpoints, leases and metrics are the same for both.
	Retrieval Retrieval

	// ConsumerName is the name of the stream consumer registered for RetrievalFanOut
	// (ignored for polling). Every worker of the application uses the same one; an
	// existing consumer of that name is reused. Default: ApplicationName.
	ConsumerName string

	// DeregisterOnShutdown makes Run deregister the stream consumer (RetrievalFanOut)
	// when it returns. Default false: the consumer stays registered, so the next run or
	// deploy reuses it at once (registering takes several seconds). Set it only for
	// applications that are not run again, and only when no other worker of the
	// application still runs: deregistering ends their subscriptions too.
	DeregisterOnShutdown bool

	// MaxRecords is the Limit of each GetRecords call (1..10000). Default 10000. Lower it
	// to make batches (and the memory of prefetched batches) smaller. Polling only: with
	// RetrievalFanOut Kinesis decides the size of each event.
	//
	// It counts Kinesis records. With KPL aggregation each Kinesis record holds many user
	// records, and a batch (one GetRecords result, up to 10 MiB) is deaggregated whole
	// into one ProcessRecords call: with small records that is tens of thousands of user
	// records (100-byte records in 50 KiB aggregates: about 450 per Kinesis record, so
	// already 9,000 in 20 aggregates). NewFunc checkpoints once per call, so this is also
	// what is processed again after a failover. Use MaxUserRecords to bound the user
	// records per call.
	MaxRecords int32

	// MaxUserRecords caps the user records passed to one ProcessRecords call: a larger
	// deaggregated batch is passed in several consecutive calls, in order, each
	// checkpointed on its own by NewFunc. Default 0: no cap, each call gets a whole
	// GetRecords result (or fan-out event). Set it when the work per call must be
	// bounded (a transaction, a request, the records reprocessed after a failover).
	MaxUserRecords int

	// IdleTimeBetweenReads is how long a shard's reader waits after a GetRecords call that
	// returned no records at the tip of the shard. Calls that return records are repeated
	// at once, within the service limit of 5 calls per second per shard. Default 1s. Lower
	// it for lower latency on quiet shards (at most 5 calls/s are made in any case);
	// raise it to save calls when several applications read the same stream. Polling
	// only: with RetrievalFanOut records are pushed as they arrive.
	IdleTimeBetweenReads time.Duration

	// MaxPrefetchBatches is how many GetRecords results (or, with RetrievalFanOut,
	// SubscribeToShard events) a shard's reader may hold ahead of the processor. Default 3.
	// Memory per shard is bounded by about (MaxPrefetchBatches + 2) GetRecords results
	// (each at most 10 MiB) or events; with fan-out a full buffer stops the reading of the
	// event stream, and the transport's flow control holds back the rest. A per-record
	// handler (NewRecordFunc) also holds up to MaxPrefetchBatches accepted batches whose
	// records are not all done, so that slow keys do not stall the others at a batch
	// boundary: about 2×MaxPrefetchBatches + 2 results per shard then.
	MaxPrefetchBatches int

	// ParentShardPollInterval is how often a shard whose parent shards are not finished
	// checks them again. A parent finished by this worker wakes it at once. Default 1s.
	ParentShardPollInterval time.Duration

	// ShutdownTimeout bounds the graceful shutdown when Run's context is cancelled: the
	// processors' ShutdownRequested (and LeaseLost) calls get a context with this timeout,
	// then the leases are released. Default 10s.
	//
	// A processor that ignores its ctx cannot hold Run forever. ShutdownTimeout after Run's
	// context ended, the shards whose processors are still running are logged (ERROR,
	// with the method each is in); twice ShutdownTimeout after it, Run releases their
	// leases and returns a *ShutdownTimeoutError naming them, leaving their goroutines to
	// end when the processor calls return (no further calls are made). So Run returns at
	// most 2 × ShutdownTimeout (plus one lease release) after its context ended: give a
	// pod a termination grace period above that (the default 30 s of Kubernetes suits
	// the default 10s).
	ShutdownTimeout time.Duration

	// MaxRetryBackoff caps the exponential backoff between retries of a failed
	// ProcessRecords, Initialize or ShardEnded call and of throttled or failed Kinesis
	// reads. Default 5s.
	MaxRetryBackoff time.Duration

	// Concurrency is how many records of one shard a per-record handler (NewRecordFunc)
	// handles at once, within the order Ordering keeps. Default 1. Raise it for handlers
	// that wait (a database write, an HTTP call): with 5 ms per record, Concurrency 100
	// handles up to 20,000 records/s per shard instead of 200, when the shard has enough
	// distinct partition keys. Ignored by other processors.
	Concurrency int

	// Ordering is what a per-record handler keeps in order: OrderByPartitionKey (the
	// default), OrderByShard or OrderNone. Ignored by other processors.
	Ordering Ordering

	// CheckpointInterval is how often a per-record handler (NewRecordFunc) checkpoints a
	// shard's low watermark when it moved. Default 1s. Lower it to replay less after a
	// crash; each checkpoint is a DynamoDB write per shard. Ignored by other processors,
	// which checkpoint themselves.
	CheckpointInterval time.Duration

	// MaxRetries is how many times a failing batch, or a failing record isolated by
	// BisectOnError or named by a PartialFailure, is delivered again before it is given
	// up (passed to OnFailure, or logged and skipped). Default 0: retry forever, so the
	// shard never moves past a record the processor did not accept (it stalls until the
	// processor is fixed). NoRetries (-1) gives up at the first failure. Set it (with
	// BisectOnError or PartialFailure, and OnFailure) when one bad record must not stop
	// its shard. Bisection deliveries do not count. See "When a record fails" in the
	// package documentation.
	MaxRetries int

	// MaxRecordAge gives up a record whose ApproximateArrivalTimestamp is older than this
	// before it is delivered (again), with reason RecordTooOld. Default 0: no limit. Set
	// it to bound how long a failing record is retried in time rather than in attempts,
	// or to skip a backlog of stale records deliberately (each goes to OnFailure).
	MaxRecordAge time.Duration

	// BisectOnError splits a batch whose ProcessRecords failed (returned an error other
	// than a PartialFailure, or panicked) into halves, delivered in order, recursively
	// until the failing record is isolated; only that record's own failures count
	// toward MaxRetries, so one bad record costs the others a few re-deliveries instead of
	// giving the whole batch up. Default false: the whole batch is retried (and given up
	// whole after MaxRetries).
	BisectOnError bool

	// OnFailure receives every record the failure policy gives up, with its data (a
	// dead-letter destination; package deadletter provides one writing to another
	// stream). While it returns an error (or panics) the same record is handed over
	// again with backoff and the shard waits: a given-up record is never dropped
	// silently. ctx ends when the lease is lost or the worker shuts down. Default nil:
	// a given-up record is logged at ERROR with its coordinates (not its data), counted
	// (RecordsGivenUp) and skipped.
	OnFailure func(ctx context.Context, f FailedRecord) error

	// Logger receives the consumer's logs (leases taken, lost and released, shard ends,
	// errors). Default slog.Default().
	Logger *slog.Logger

	// MeterProvider provides the meter for the KCL-named metrics (see the package
	// documentation). Default: a no-op provider.
	MeterProvider metric.MeterProvider

	adaptiveTake bool // LeaseTakeInterval was left at 0: adapt it to the table size
}

// AdaptiveLeaseTakeInterval is the default LeaseTakeInterval after a scan that returned
// leases leases: leases × LeaseTakeIntervalPerLease, at least min(1s, failoverTime/2)
// and at most failoverTime/2.
func AdaptiveLeaseTakeInterval(leases int, failoverTime time.Duration) time.Duration {
	hi := failoverTime / 2
	lo := min(DefaultLeaseTakeInterval, hi)
	d := time.Duration(leases) * LeaseTakeIntervalPerLease
	return max(lo, min(d, hi))
}

// Default values of Options.
const (
	DefaultFailoverTime            = 10 * time.Second
	DefaultShardSyncInterval       = 60 * time.Second
	DefaultMaxRecords              = 10000
	DefaultIdleTimeBetweenReads    = time.Second
	DefaultMaxPrefetchBatches      = 3
	DefaultParentShardPollInterval = time.Second
	DefaultShutdownTimeout         = 10 * time.Second
	DefaultMaxRetryBackoff         = 5 * time.Second
	DefaultHandoffTimeout          = 5 * time.Second
	// DefaultLeaseTakeInterval is the shortest adaptive LeaseTakeInterval, used for
	// small lease tables (unless FailoverTime/2 is shorter).
	DefaultLeaseTakeInterval = time.Second
	// LeaseTakeIntervalPerLease is the adaptive LeaseTakeInterval per lease in the
	// table: 1,000 leases give 10s, before the FailoverTime/2 cap.
	LeaseTakeIntervalPerLease = 10 * time.Millisecond
	// MinFailoverTime is the smallest FailoverTime New accepts.
	MinFailoverTime = 100 * time.Millisecond
)

// resolve fills defaults and validates o.
func (o *Options) resolve(streamName string) error {
	// Every problem is reported at once (errors.Join), each matching ErrInvalidOptions.
	var errs []error
	invalid := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrInvalidOptions}, args...)...))
	}
	if o.ApplicationName == "" {
		o.ApplicationName = streamName
	}
	if o.WorkerID == "" {
		o.WorkerID = defaultWorkerID()
	}
	if len(o.WorkerID) > 1024 {
		invalid("WorkerID is %d bytes long; keep it under 1024", len(o.WorkerID))
	}
	switch o.InitialPosition {
	case "":
		o.InitialPosition = InitialPositionLatest
	case InitialPositionLatest, InitialPositionTrimHorizon:
	case InitialPositionAtTimestamp:
		if o.InitialTimestamp.IsZero() {
			invalid("InitialPosition AT_TIMESTAMP needs InitialTimestamp")
		}
	default:
		invalid("InitialPosition %q is not one of LATEST, TRIM_HORIZON, AT_TIMESTAMP", o.InitialPosition)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"FailoverTime", &o.FailoverTime, DefaultFailoverTime},
		{"ShardSyncInterval", &o.ShardSyncInterval, DefaultShardSyncInterval},
		{"IdleTimeBetweenReads", &o.IdleTimeBetweenReads, DefaultIdleTimeBetweenReads},
		{"ParentShardPollInterval", &o.ParentShardPollInterval, DefaultParentShardPollInterval},
		{"ShutdownTimeout", &o.ShutdownTimeout, DefaultShutdownTimeout},
		{"MaxRetryBackoff", &o.MaxRetryBackoff, DefaultMaxRetryBackoff},
		{"HandoffTimeout", &o.HandoffTimeout, DefaultHandoffTimeout},
		{"LeaseTakeInterval", &o.LeaseTakeInterval, 0},
	}
	for _, d := range durations {
		if *d.v < 0 {
			invalid("%s is negative (%v); use 0 for the default", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if o.FailoverTime >= 0 && o.FailoverTime < MinFailoverTime {
		invalid("FailoverTime %v is below the minimum %v", o.FailoverTime, MinFailoverTime)
	}
	if o.LeaseTakeInterval == 0 {
		o.adaptiveTake = true
		o.LeaseTakeInterval = AdaptiveLeaseTakeInterval(0, o.FailoverTime)
	}
	switch o.Retrieval {
	case "":
		o.Retrieval = RetrievalPolling
	case RetrievalPolling, RetrievalFanOut:
	default:
		invalid("Retrieval %q is not one of POLLING, FANOUT", o.Retrieval)
	}
	if o.ConsumerName == "" {
		o.ConsumerName = o.ApplicationName
	}
	if len(o.ConsumerName) > 128 {
		invalid("ConsumerName is %d characters long; the maximum is 128", len(o.ConsumerName))
	}
	switch {
	case o.MaxRecords < 0 || o.MaxRecords > 10000:
		invalid("MaxRecords %d is outside 1..10000", o.MaxRecords)
	case o.MaxRecords == 0:
		o.MaxRecords = DefaultMaxRecords
	}
	switch {
	case o.MaxPrefetchBatches < 0:
		invalid("MaxPrefetchBatches %d is negative", o.MaxPrefetchBatches)
	case o.MaxPrefetchBatches == 0:
		o.MaxPrefetchBatches = DefaultMaxPrefetchBatches
	}
	switch o.Balancing {
	case "":
		o.Balancing = BalanceByThroughput
	case BalanceByThroughput, BalanceByLeaseCount:
	default:
		invalid("Balancing %q is not one of THROUGHPUT, LEASE_COUNT", o.Balancing)
	}
	if o.MaxUserRecords < 0 {
		invalid("MaxUserRecords %d is negative; use 0 for no cap", o.MaxUserRecords)
	}
	if o.MaxRetries < NoRetries {
		invalid("MaxRetries %d is invalid; use 0 to retry forever, NoRetries (-1) for none, or a positive count", o.MaxRetries)
	}
	if o.MaxRecordAge < 0 {
		invalid("MaxRecordAge is negative (%v); use 0 for no limit", o.MaxRecordAge)
	}
	if o.MaxLeasesForWorker < 0 {
		invalid("MaxLeasesForWorker %d is negative; use 0 for no cap", o.MaxLeasesForWorker)
	}
	if err := o.resolveRecordFunc(); err != nil {
		errs = append(errs, err)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = noop.NewMeterProvider()
	}
	return errors.Join(errs...)
}

func defaultWorkerID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "worker"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}
