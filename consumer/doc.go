// Package consumer is a KCL-class consumer of Amazon Kinesis Data Streams: it reads
// every shard of a stream with one RecordProcessor per shard, in order, parents before
// children, checkpoints progress (sequence number and subsequence number) in a lease
// table, and shares the shards among any number of worker processes that use the same
// table, taking over the shards of workers that stop.
//
//	store, _ := checkpoint.NewDynamoDB(dynamodb.NewFromConfig(cfg), "my-app")
//	c, _ := consumer.New(kinesis.NewFromConfig(cfg), "my-stream", store, newProcessor)
//	err := c.Run(ctx) // until ctx is cancelled; then a graceful shutdown, nil
//
// NewFunc adapts a plain function of a batch for applications that do not need the
// processor lifecycle; NewRecordFunc a function of one record, handled in parallel
// within each shard (see "Per-record handlers in parallel"). The lease table is the KCL 2.x schema (see package checkpoint), so the
// leases of a Java KCL 2.x application can be read, but do not run both on one table at
// once: their balancing strategies differ.
//
// # Delivery guarantees
//
// At least once, no gaps: a shard's position only moves past records the processor
// accepted (ProcessRecords returned nil) and checkpointed. Records are delivered in shard
// order; a shard starts only when every parent shard is finished, so the records of a
// partition key keep their order across a split or a merge. Records since the last
// checkpoint are delivered again after a failover (a lost lease, a crash), so make
// processing idempotent or checkpoint often.
//
// # One Run, several loops
//
// Run checks the stream, then the lease table (EnsureTable when the store has it; a
// missing stream therefore creates no table), syncs the shards once, then runs until its
// context ends:
//
//   - a renewer, which renews every held lease each FailoverTime/3;
//   - a taker, which scans the lease table at once, every LeaseTakeInterval (adaptive by
//     default: 1s for small tables, longer for large ones) and whenever one of its shards
//     finished, and takes or steals leases;
//   - a shard syncer, which lists the shards every ShardSyncInterval and creates missing
//     leases;
//   - one goroutine per held lease, which waits for the shard's parents, then runs a
//     reader goroutine (GetRecords, or SubscribeToShard events with enhanced fan-out,
//     into a bounded channel) and calls the processor.
//
// Every goroutine is owned and waited for: nothing Run started runs after it returns,
// except the goroutine of a processor call that ignored its ctx past the shutdown bound
// (see Graceful shutdown below), which ends when that call returns.
//
// # Time
//
// The consumer has one clock, the time package: every wait (backoff, read pacing,
// renewals, scans, checkpoint intervals, shutdown bounds) is a time.Timer or time.Ticker
// and every timestamp is time.Now; there is no clock option. The decisions that depend on
// time take the current time as an argument where they are pure functions of it (which
// leases to take, a failing batch's next step, whether a record is too old). Tests of the
// consumer's timing therefore run it inside a testing/synctest bubble, where the time
// package is a fake clock that moves only when every goroutine waits: a test asserts
// exact delays and counts (one GetRecords per 200 ms, a retry within its backoff's exact
// bounds) without waiting in real time. kinesistest.Server and checkpoint.NewMemory work
// inside a bubble; the emulators of the integration tests do not, and those tests keep
// real time.
//
// # Leases
//
// Every write to a lease (renew, take, checkpoint, release) is conditional on the lease
// counter the worker last saw and increments it, so a worker that lost a lease can never
// overwrite the new owner's progress. A worker serialises the writes of each lease it
// holds and always uses the latest counter. A write whose outcome is unknown (a timeout, a
// lost reply) or that conflicts is checked by reading the lease back: while the table
// still names this worker as the owner only this worker has written it, so the stored
// lease is adopted; any other owner means the lease was lost.
//
// Expiry is judged the KCL way, by each worker's own clock: a lease is expired when its
// counter has not changed for longer than FailoverTime since this worker first saw that
// counter value. Timestamps are never compared across machines, so clock skew does not
// matter. A lease without owner is available at once.
//
// Balancing: the fair share of a worker is ceil(unfinished leases / live workers), where
// live workers are the owners of unexpired leases plus itself, capped by
// MaxLeasesForWorker. In one scan a worker takes every available lease (no owner, or
// expired) up to its share, those whose shard can start now first. Then it steals:
//
//   - BalanceByThroughput (the default): each owner reports every lease's smoothed
//     throughput (bytes/s accepted by the processor, written as throughputKBps with the
//     renewals, as KCL 3.x does). A worker steals, from the busiest worker down, the lease
//     that brings the two closest, when that lowers the busier one's load by more than 5%:
//     two hot shards end on different workers, measurement noise never moves a lease back
//     and forth, and a lease without traffic is never moved to even out throughput. Leases
//     without traffic are then shared out by count as below, so no worker sits idle while
//     another holds many.
//   - BalanceByLeaseCount: while below its share it steals, repeatedly from the worker
//     holding the most, one lease at a time while that worker holds at least two more
//     leases than itself.
//
// Either way a joining worker reaches its share in its first scan whatever the shard
// count (the KCL steals one lease per 20 s), and a steal never makes the victim want to
// steal back. Leases whose shard waits for its parents are never stolen, nor are leases
// in a handoff, nor leases that have just moved (settling), so that a lease is not moved
// twice in a row: a worker that restarts right after a survivor took its shards over
// leaves them there. Every move to another worker is recorded in the lease table
// (ownerSinceCounter: the lease counter right after the move), so every worker, one that
// has just started included, knows it; a lease settles once its owner has renewed it for
// FailoverTime since the move (3 counter increments; counters, not timestamps, so clock
// skew does not matter), and no earlier than FailoverTime after a worker first saw the
// move on its own clock (checkpoints also advance the counter). A take from a dead owner,
// the end of a graceful handoff, a forced handoff and the take of a lease released at a
// graceful shutdown are moves; the first take of a new lease is not, so a fleet that
// starts together balances at once. A fleet restarted as a whole after its workers
// released their leases finds them all moved, and balances them FailoverTime after the
// first worker took them.
//
// A steal is a graceful handoff when the store implements checkpoint.HandoffStore
// (DynamoDB and Memory do), in the KCL 3.x shape: the thief marks the lease (leaseOwner =
// thief, checkpointOwner = owner) and waits without writing; the owner notices at its next
// scan or renewal, stops reading, lets the ProcessRecords call in progress finish, calls
// ShutdownRequested (the processor checkpoints there) and clears checkpointOwner; the
// thief starts from that checkpoint. Nothing is processed twice and the move is logged at
// INFO. An owner that does not finish within HandoffTimeout (default 5s) — stuck or dead —
// loses the lease by force, as without a handoff: its records since the last checkpoint
// are processed again. A thief that dies after marking leaves a lease that expires after
// FailoverTime like any other. With DisableGracefulHandoff (or another Store) a steal
// takes the lease at once: the victim stops processing it at its next renewal or scan, at
// most FailoverTime/3 later, and records it processed without checkpointing are
// processed again by the thief.
//
// A lost lease (a renew or checkpoint conflict, a scan showing a newer counter with
// another owner, or no successful write for FailoverTime) stops the shard at once: the
// processor's context is cancelled, LeaseLost is called, and its Checkpointer returns
// ErrLeaseLost from then on.
//
// Graceful shutdown (Run's context cancelled): the readers stop, each processor gets
// ShutdownRequested with a Checkpointer that still works (the leases are still renewed),
// bounded by ShutdownTimeout, then every lease is released (its owner removed), so other
// workers take the shards at their next scan, within LeaseTakeInterval, instead of after
// FailoverTime. Processors that ignore their ctx are logged as overdue at ShutdownTimeout
// and abandoned at twice ShutdownTimeout: Run releases their leases and returns a
// *ShutdownTimeoutError naming their shards, so it returns within 2 × ShutdownTimeout
// whatever the processors do (size a pod's termination grace period to that).
//
// # Shards and resharding
//
// The shard syncer creates a lease for every listed shard that needs one, parents before
// children: a shard whose parent has (or gets) a lease starts at TRIM_HORIZON (or
// AT_TIMESTAMP when that is InitialPosition), so nothing written to a child is skipped; a
// shard without a leased relative gets InitialPosition (with LATEST only open shards get
// leases); a shard with a leased descendant gets none (it was processed or deliberately
// skipped). On a new table this means, for TRIM_HORIZON, a lease for every retained shard.
//
// A shard starts only when every parent lease is absent or at SHARD_END (both parents
// for a merge). Closed shards are always read to their end: the end is where GetRecords
// returns no NextShardIterator, with the ChildShards. There the consumer creates the
// child leases (with their parents and hash ranges; if the other parent of a merge has no
// lease yet, it runs a shard sync instead so that parent's lease exists first), records
// the children on the lease, calls ShardEnded, writes SHARD_END itself if the processor
// did not, and releases the lease. Finished leases are deleted by the syncer once their
// shard is no longer listed (trimmed) and all its children have leases, never earlier:
// an absent parent lease counts as finished.
//
// # Reading
//
// Each shard is polled with GetShardIterator and GetRecords (Limit MaxRecords Kinesis
// records; each result is deaggregated into one ProcessRecords call, or into calls of at
// most MaxUserRecords user records when that is set), at most
// five calls per second per shard (the service limit); after an empty read at the tip the
// reader waits IdleTimeBetweenReads. The reader holds at most MaxPrefetchBatches results
// ahead of the processor, so a slow processor costs bounded memory. A shard resumes at its
// checkpoint with AT_SEQUENCE_NUMBER and drops every record at or before it, also inside
// an aggregated record (by subsequence number). Throttling (ProvisionedThroughputExceeded)
// backs off exponentially up to MaxRetryBackoff with the same iterator; an
// ExpiredIteratorException gets a new iterator AFTER_SEQUENCE_NUMBER of the last record
// read; any other error (a server error, an invalid iterator, which kinesis-mock reports as
// HTTP 500) backs off and starts again from a fresh iterator. The SDK's own retryer is
// disabled for these two calls so attempts do not multiply; ListShards and
// DescribeStreamSummary keep the client's retryer.
//
// # Enhanced fan-out
//
// With Options.Retrieval = RetrievalFanOut the reader of a shard is a subscription
// instead of polling; everything else (leases, processor calls, checkpoints, hash-range
// filtering, deaggregation, resharding, metrics) is the same code. Run registers the
// stream consumer Options.ConsumerName (default ApplicationName) with
// RegisterStreamConsumer, or reuses the existing one (ResourceInUseException, then
// DescribeStreamConsumer), and waits until it is ACTIVE. Each held shard subscribes with
// SubscribeToShard at its checkpoint (AT_SEQUENCE_NUMBER, dropping every record at or
// before the checkpoint as polling does) or at the lease's initial position. A
// subscription lasts at most 5 minutes; when it ends, or fails (a network error, an
// error event, a refused call such as ResourceInUseException while the previous
// subscription is still open), the reader subscribes again AFTER_SEQUENCE_NUMBER of the
// last event's ContinuationSequenceNumber, with a backoff after errors and never more
// than one SubscribeToShard call per second per shard. An event without
// ContinuationSequenceNumber ends the shard, with its ChildShards, exactly like
// GetRecords without NextShardIterator. The reader holds at most MaxPrefetchBatches
// events ahead of the processor; when they are all waiting it stops reading the event
// stream, so the SDK stops reading the connection and flow control pushes back on
// Kinesis: memory stays bounded however slow the processor is.
//
// Polling or fan-out? Polling (the default) costs nothing extra, but every application
// reading the stream shares each shard's 2 MiB/s and 5 GetRecords calls/s, and a quiet
// shard's records wait up to IdleTimeBetweenReads. Fan-out gives each registered consumer
// its own 2 MiB/s per shard, pushed with about 70 ms latency, at a price per
// consumer-shard hour and per GB retrieved, with at most 20 consumers per stream. Pick
// fan-out for three or more applications on one stream, for latency-sensitive
// processing, or when one application needs the full read throughput; keep polling
// otherwise. The consumer stays registered after Run returns unless
// Options.DeregisterOnShutdown is set, so a redeploy reuses it at once.
//
// KPL-aggregated records are deaggregated: each user record carries its Kinesis record's
// sequence number and its index in the aggregate as SubSequenceNumber (0 for records that
// are not aggregated). Sub-records whose hash key lies outside the shard's hash range
// (possible after a reshard) are dropped one by one, as the KPL producer also puts them
// to their own shard; the others keep their order.
//
// # Processor failures
//
// An error returned by ProcessRecords, or a panic in it (recovered into a *PanicError
// with the stack), makes the consumer deliver the records again after a backoff doubling
// up to MaxRetryBackoff. With the zero Options that is all: the same batch until it is
// accepted, the lease is lost or the worker shuts down, so the shard never moves past
// records the processor did not accept (the KCL skips the batch). Initialize and
// ShardEnded are always retried that way. Errors are logged and counted
// (RecordProcessor.Errors); a panic's stack is logged the first time the worker sees
// that panic (same method, value and call stack), then each retry logs a short line
// with its attempt number.
//
// # When a record fails
//
// One bad record need not stall its shard. Options.MaxRetries bounds the retries,
// Options.MaxRecordAge bounds a record's age, Options.BisectOnError isolates the failing
// record of a batch, a *PartialFailure returned by ProcessRecords names it, and
// Options.OnFailure receives each record given up (package deadletter writes them to
// another stream). ProcessRecordsInput.Attempt tells the processor how often the
// records of a call were delivered.
//
// A call that fails (returns an error or panics) with records r1..rn:
//
//	returned / panicked       BisectOnError off                    BisectOnError on
//	error or panic            the same records again; after        n > 1: split; the first half is
//	                          MaxRetries retries all n are         delivered at once (not a retry);
//	                          given up (RetriesExhausted)          n = 1: retried, given up after
//	                                                               MaxRetries retries
//	*PartialFailure{rk}       r1..rk-1 accepted; rk alone again     same as off: rk is already isolated
//	                          (a retry); given up after
//	                          MaxRetries retries; then rk+1..rn
//	*PartialFailure naming    a processor bug, logged at ERROR;     as error (split)
//	a record not in the call  as error
//
//	MaxRetries 0 (default)    never give up for failures: retry forever
//	MaxRetries n > 0          give up at the n+1st counted failure of the record (or batch)
//	MaxRetries NoRetries      give up at the first counted failure
//	MaxRecordAge d > 0        before every delivery, a first record that arrived more than d
//	                          ago is given up (RecordTooOld) instead of delivered, whatever
//	                          MaxRetries says; a backlog of stale records is skipped this way
//
// Records are done in shard order: every delivery starts at the first record neither
// accepted nor given up, so the processor sees each key in order, and an accepted record
// is not delivered again in the lease period. When the first half of a split range is
// accepted, the failure must be in the second half, which is split at once rather than
// delivered whole; a poison record in a batch of 1,000 costs the other records about
// 1,300 re-deliveries with bisection (Lambda's plain bisection about 2,000), none before
// it and one after it with PartialFailure.
//
// A given-up record goes to OnFailure as a FailedRecord with its data, keys, sequence
// and subsequence numbers, stream, shard, Attempts (its deliveries, alone or inside a
// batch or half) and the last error. While OnFailure returns an error (or panics) the
// same record is handed over again with backoff and the shard waits: a given-up record
// is never dropped silently. Without OnFailure it is logged and skipped. Either way one
// ERROR line per given-up record names its coordinates (never its data), and
// RecordsGivenUp counts it by reason.
//
// Checkpoints: inside ProcessRecords, Checkpoint covers that call's records and earlier
// ones, never a half not delivered yet; between calls it covers the last record done, so
// a processor that checkpoints later (such as package sink) never passes a record that
// failed. A given-up record counts as done: the processor's next Checkpoint may pass it.
// The consumer itself never writes a checkpoint the processor did not ask for (except
// SHARD_END), so a given-up record that no checkpoint covers yet is delivered, and given
// up, again after a restart or failover: OnFailure is at least once too.
//
// NewRecordFunc applies the same policy per record (MaxRetries, MaxRecordAge,
// OnFailure); bisection and PartialFailure are for batches.
//
// # Checkpoints
//
// Checkpointer.Checkpoint records the last record delivered so far (SHARD_END inside
// ShardEnded); CheckpointAt records a given record, which must be one delivered on this
// lease after the last checkpoint (else ErrInvalidCheckpoint): a checkpoint that is not a
// record of the shard would make every later GetShardIterator fail. Each shard remembers
// the positions delivered since its last checkpoint as runs of subsequence numbers per
// Kinesis record (batches are contiguous), forgets them at each checkpoint, and keeps at
// most the last (2×MaxPrefetchBatches+2)×MaxRecords Kinesis records (80,000 by default,
// about 90 bytes each); an older position is checked with GetShardIterator. Both are fenced by the lease: after a loss they fail with
// ErrLeaseLost and write nothing.
//
// # Per-record handlers in parallel
//
// NewRecordFunc takes a function of one record and handles up to Options.Concurrency
// records of each shard at once; a shard is no longer limited to one batch at a time, so
// a handler that waits 5 ms per record (a database write, an HTTP call) is not limited
// to 200 records per second per shard. The guarantees, for the records of one shard
// read by one lease owner:
//
//   - OrderByPartitionKey (the default): the handler of a record starts only after the
//     handler of every earlier record with the same partition key returned nil (or the
//     record was given up). Records of different keys run concurrently and finish in
//     any order. A failing record blocks only the later records of its key, until it
//     succeeds or the failure policy (MaxRetries, MaxRecordAge) gives it up to OnFailure.
//   - OrderByShard: one record at a time in shard order (Concurrency is 1 per shard).
//   - OrderNone: no order, also within a key.
//   - The checkpoint is the low watermark: the last record such that it and every record
//     before it in the shard are done, written every CheckpointInterval when it moved, at
//     a graceful shutdown and (SHARD_END) once every record of a closed shard is done.
//     It never passes a record that is not done. A graceful shutdown waits for the
//     accepted records first (within ShutdownTimeout), so a planned stop replays nothing.
//   - After a crash or a lost lease the new owner starts after the last checkpoint: the
//     records done above it are handled again (at least once), in the same order rules.
//   - Shards keep their parent-before-child order, so a key's order holds across a
//     reshard too.
//   - KPL aggregates are split: each user record is its own unit, ordered by its own
//     partition key, and the checkpoint carries its subsequence number.
//
// The reader keeps fetching while keys are busy: the processor accepts a batch as soon
// as it holds fewer than MaxPrefetchBatches unfinished batches, then the reader's own
// MaxPrefetchBatches fill and it stops fetching, so a stuck key costs bounded memory
// (about 2×MaxPrefetchBatches+2 GetRecords results per shard) and stalls the shard only
// once that window is full.
//
// # Observability
//
// Logs go to Options.Logger (slog.Default() by default): leases taken, lost, released,
// shard ends, retries and errors, with the attributes stream, worker and shard. A shard
// that has not been read successfully for a minute (every call fails: a checkpoint that
// is not a record of the shard, missing permissions, a network that never answers) is
// logged as an ERROR ("shard cannot be read", with the error code), again every minute
// while it lasts, and "shard readable again" when it recovers; ReadErrors counts every
// failed call by shard and code, so an alert on it shows a stuck shard. Metrics go
// through Options.MeterProvider (OpenTelemetry, no-op by default), instrumentation scope
// "github.com/kinesis-go/kinesis/consumer", named after the KCL metrics, with the
// attributes application, stream, worker and, per shard, shard:
//
//	RecordsProcessed                     counter   user records accepted, per shard
//	DataBytesProcessed                   counter   bytes accepted, per shard
//	MillisBehindLatest                   gauge     lag of the last GetRecords, per shard
//	RecordProcessor.processRecords.Time  histogram ms per ProcessRecords call, per shard
//	RecordProcessor.Errors               counter   failed processor calls, per shard
//	RecordProcessor.Retries              counter   re-deliveries counted toward MaxRetries, per shard
//	RecordProcessor.Bisections           counter   failed calls split in halves (BisectOnError), per shard
//	RecordsGivenUp                       counter   records given up, per shard and reason (RetriesExhausted|RecordTooOld)
//	OnFailure.Errors                     counter   failed OnFailure hand-overs (retried), per shard
//	ReadErrors                           counter   failed GetShardIterator, GetRecords and SubscribeToShard
//	                                               calls, per shard, operation and code (the AWS error
//	                                               code, or ConnectionError, Timeout, HTTP<status>)
//	CurrentLeases                        gauge     leases held
//	TotalLeases, ExpiredLeases           gauge     unfinished / expired leases at the last scan
//	NumWorkers                           gauge     live workers at the last scan
//	TakenLeases                          counter   leases taken (stolen=true|false)
//	LostLeases                           counter   leases lost
//	LeaseHandoffs                        counter   leases handed over to this worker (result=graceful|forced), per shard
//	LeaseHandoff.Time                    histogram ms from marking a lease until this worker started it, per shard
//	RenewLease.Success                   counter   renewals (success=true|false)
//	SubscribeToShard.Success             counter   fan-out subscribe calls (success=true|false), per shard
//	SubscribeToShard.StreamErrors        counter   fan-out subscriptions ended by an error, per shard
//	RecordProcessor.RecordsInFlight      gauge     NewRecordFunc: records whose handler runs, per shard
//	RecordProcessor.KeysBlocked          gauge     NewRecordFunc: keys with records waiting behind a running one, per shard
//	RecordProcessor.WatermarkLag         gauge     NewRecordFunc: records done but not yet checkpointable, per shard
//
// # Costs
//
// Per held lease, FailoverTime/3 renewals (18 writes a minute with the defaults), one
// write per checkpoint; per worker, one table scan per LeaseTakeInterval and one
// ListShards and scan per ShardSyncInterval. The default LeaseTakeInterval adapts to the
// table: 1s up to 100 leases (60 scans a minute), then 10 ms per lease up to
// FailoverTime/2 (5 s, reached at 500 leases), so each worker reads at most about 8 read
// units per second of lease table up to 500 leases; beyond, the scan stays at every 5 s
// and its cost grows with the table (about 15 read units per second for 1,000 leases; see
// Options.LeaseTakeInterval for the arithmetic). With the defaults two workers sharing 8
// leases make about 33 lease-table requests per lease per minute (18 renewals, 15 take
// scans and a quarter of a sync scan shared out) plus their checkpoints. A lease moved by
// a balancing steal adds its handoff (two writes and a read per 100 ms while the new owner
// waits, see package checkpoint). Enhanced fan-out adds one SubscribeToShard per shard
// per 5 minutes (more after errors) and the fan-out charges; it makes no GetRecords
// calls.
//
// # Permissions
//
// kinesis:DescribeStreamSummary, kinesis:ListShards, kinesis:GetShardIterator and
// kinesis:GetRecords on the stream. With fan-out, instead of the last two:
// kinesis:RegisterStreamConsumer and kinesis:DescribeStreamConsumer on the stream,
// kinesis:DescribeStreamConsumer and kinesis:SubscribeToShard on the consumer ARN, and
// kinesis:DeregisterStreamConsumer with DeregisterOnShutdown (kinesis:GetShardIterator
// only if processors call CheckpointAt on records delivered more than
// (2×MaxPrefetchBatches+2)×MaxRecords Kinesis records before). On the lease table: dynamodb:DescribeTable, GetItem, PutItem,
// UpdateItem, DeleteItem and Scan (and CreateTable to create it). Access denied errors
// name the missing action (*AccessDeniedError here, checkpoint.AccessDeniedError for the
// table).
package consumer
