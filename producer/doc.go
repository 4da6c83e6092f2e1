// Package producer writes records to an Amazon Kinesis data stream the way the
// Kinesis Producer Library (KPL) does, in pure Go: user records that map to the same
// shard are packed into KPL aggregated records, batched into PutRecords calls, rate
// limited per shard and retried until they are written or their time to live passes.
// Every record put gets exactly one result.
//
//	p, err := producer.New(kinesis.NewFromConfig(cfg), "my-stream")
//	...
//	err = p.Put(ctx, producer.Record{PartitionKey: key, Data: data}, func(res producer.Result, err error) {
//		// res.ShardID, res.SequenceNumber, res.SubSequenceNumber, res.Attempts; or err
//	})
//	...
//	err = p.Close(ctx) // flushes, then stops
//
// Consumers must deaggregate (the KCL and this module's consumer package do); set
// Options.DisableAggregation otherwise.
//
// # Pipeline
//
// Put validates the record (partition key of 1 to 256 characters, data plus key
// within the stream's max record size, explicit hash key in 0..2^128-1), computes its
// hash key (the MD5 of the partition key, remembered for the last few thousand keys
// since keys usually repeat, or the explicit hash key), takes room in the bounded
// buffer and queues the record for the router; it does no I/O and takes no lock held
// by anything slow. Then:
//
//   - The router goroutine predicts each record's shard by binary search in the shard
//     map and adds it to that shard's aggregate, with exact incremental sizing
//     (AggregationMaxSize, AggregationMaxCount). A full aggregate, or one whose
//     oldest record has waited RecordMaxBufferedTime, goes to the encoders.
//   - Encoder goroutines write the aggregated record (protobuf and MD5, about 80 us for
//     50 KB) into a reused buffer, off the Put path.
//   - The dispatcher goroutine passes each shard's Kinesis records through the shard's
//     token buckets (RateLimit percent of 1,000 records/s and 1 MiB/s, backing off
//     further while Kinesis throttles the shard) into PutRecords batches of at most
//     CollectionMaxCount records and CollectionMaxSize bytes. A batch is sent when
//     full, when its earliest record's deadline passes, or on Flush, with at most
//     MaxConnections calls in flight, each bounded by RequestTimeout, and no more
//     bytes in flight than the endpoint was seen to take in a quarter of RequestTimeout
//     (see Options.RequestTimeout). The producer
//     writes the JSON body of its PutRecords calls itself, in one allocation of the
//     exact size, byte for byte what the SDK's serializer writes (which grows a small
//     buffer to the up to 6.7 MB body, about 6 times the memory and 3 times the
//     time); everything else (signing, endpoint, HTTP, your middleware) is the SDK's.
//     The SDK's client.call.serialization_duration metric is not recorded for these
//     calls.
//   - Each call's results are sorted: written records get their result, failed ones
//     are retried or failed (see Errors).
//   - One goroutine runs the callbacks, in the order results arrive.
//
// # Shard map
//
// The shard map (ListShards with the AT_LATEST filter, paged) and the stream's max
// record size (DescribeStreamSummary; 1 MiB if that call is not allowed) are loaded by
// a background goroutine: New does no I/O and cannot block. Records put before the
// map is known wait in the buffer, subject to RecordTTL, and are aggregated for their
// shards once it arrives; they are never sent unaggregated or to a guessed shard. A
// record over 1 MiB waits in Put for the max record size to be known.
//
// The map is listed again when a record lands on another shard than predicted (a
// reshard), periodically (ShardMapRefreshInterval), and after failures, with
// concurrent requests coalesced; the new map is swapped in without stopping
// aggregation, and the records buffered for shards that closed are aggregated again
// for the shards that replaced them. When an aggregate lands on another shard than
// predicted, its user records whose hash key lies in that shard's range succeed; the
// others (which consumers drop from the aggregate) are put again, keeping their
// attempts and TTL.
//
// # Errors
//
// Retryable failures (throttling, InternalFailure, 5xx, timeouts, connection errors,
// KMS throttling; see IsRetryable) are retried with jittered exponential backoff until
// RecordTTL, then the record fails with an *ExpiredError that wraps ErrRecordExpired
// and the last cause. A PutRecords entry that fails inside a successful response is
// retried alone. Failures that retrying cannot fix fail at once: ValidationException,
// ResourceNotFoundException (a mistyped stream name, another region, a deleted stream:
// the error wraps ErrStreamNotFound), AccessDeniedException (as an
// *AccessDeniedError naming the IAM action to grant, e.g. kinesis:PutRecords on the
// stream ARN) and KMS key errors. FailIfThrottled fails throttled records at once.
//
// The producer owns retries: its calls run with the SDK retryer turned off
// (aws.NopRetryer as a per-call option), so the SDK neither multiplies attempts nor
// runs out of retry quota. Each attempt is listed in the record's Result.Attempts
// (delay, duration, error code and message); an attempt that failed ambiguously (a
// timeout, a connection reset or a 5xx answer to the whole call, after which the
// records may have been written) is marked Ambiguous: only such records can be
// written twice. The unit of such a duplicate is the Kinesis record: when an
// aggregate is retried after an ambiguous failure, every user record in it (up to
// AggregationMaxSize bytes of them) may reach consumers twice.
//
// A call that Kinesis does not answer within RequestTimeout fails with an error
// wrapping ErrRequestTimeout; the pipeline retries it (it is ambiguous, code
// "Timeout"). That is the only deadline the producer retries: IsRetryable reports
// context.Canceled and context.DeadlineExceeded (a context the caller ended) as not
// retryable.
//
// AWS errors keep their type: use errors.As with smithy.APIError (EntryError
// implements it for failed PutRecords entries) or the SDK's exception types.
//
// # Memory and back-pressure
//
// The buffer holds at most MaxBufferedRecords records and MaxBufferedBytes bytes
// (each record's data and keys plus RecordOverhead), from Put until the record's
// callback has returned. Put blocks while it is full, until there is room or Put's
// context ends; it then returns the context's error and buffers nothing.
//
// RecordOverhead covers a record's bookkeeping and, for records of up to about 100
// bytes, its encoded copy in an aggregate; larger records add the encoded copy of
// the aggregates on their way out. Buffers are reused across garbage collections, so
// a producer at full speed allocates almost nothing (about 20 bytes per record) and
// its heap does not swing to twice the live data with every GC cycle. The price: what
// a burst used is kept for reuse until Close rather than returned (still within the
// budget, since only what was in use at once is kept).
// On top of the budget come the request bodies in flight, 4/3 of their records' size
// (base64): at most MaxConnections x CollectionMaxSize x 4/3, 160 MiB at the defaults,
// reached only when 24 calls of 5 MiB are in flight at once. Lower MaxConnections or
// CollectionMaxSize to lower that part. BENCHMARKS.md at the repository's root reports
// the peak heap measured at full speed with the defaults.
//
// # Callbacks
//
// Callbacks run serially on one goroutine, in the order results arrive, never on the
// pipeline's goroutines. A callback must not block for long, and must not call Put,
// PutSync, Flush or Close: those can wait for the callback goroutine itself. Since a
// record's room in the buffer is released only after its callback returned, slow
// callbacks slow Put down rather than grow memory. Flush and Close with a context
// cannot deadlock on a slow callback; Close still waits for running callbacks to
// return before it returns.
//
// # Flush and Close
//
// Flush sends everything buffered at once (ignoring RecordMaxBufferedTime, not the
// rate limits or retry backoff) and returns when every record put before it has its
// result. Close flushes and stops the goroutines; Put then returns ErrClosed. If
// Close's context ends first, the records not written yet fail with an error wrapping
// ErrClosed, each still getting its one result.
//
// # Ordering
//
// Without PreserveOrder (the default), records of a shard are generally written in
// Put order, but a record that is retried (throttled, failed entry, failed call) is
// written after newer records of its shard, and several PutRecords calls to a shard
// may be in flight at once. Consumers that need per-key order should use sequence
// numbers, or enable PreserveOrder.
//
// With PreserveOrder, records of each shard are written in the order Put accepted
// them (per goroutine: Puts from different goroutines are ordered by when they
// return), also across retries, throttling and backoff: at most one PutRecords call
// per shard is in flight and carries one Kinesis record of the shard, and a failed
// record is retried before anything newer of its shard. The cost is one round trip per
// aggregate and shard; while a shard's call is in flight, everything put for the shard
// joins its next aggregate (up to AggregationMaxSize, whatever RecordMaxBufferedTime
// says), so a shard writes up to AggregationMaxSize per round trip
// (BenchmarkPreserveOrder: the same records/s as the default mode at 20 ms per call). Across a reshard the guarantee is weaker: records already
// aggregated for the closed parent shard when the new map arrives are written before
// or after newer records of the child shards, and user records put again after
// landing on the wrong child follow newer records of their shard. An ambiguous
// failure followed by a retry can also write a record twice, the second copy after
// newer records.
//
// # Observability
//
// Logs go to Options.Logger (slog.Default() by default): warnings for retried calls
// and failed shard listings, errors for failed records, whatever failed them (a
// PutRecords call or entry, a TTL that passed while the shard map could not be loaded
// or the shard was rate limited, Close giving up). Repeated lines are rate limited:
// the first at once, then at most one every 10 s with the counts since, by code. Metrics go through the
// OpenTelemetry Options.MeterProvider, named after the KPL metrics, with "stream" and,
// per shard, "shard" attributes: the counters UserRecordsReceived, UserRecordsPut,
// UserRecordsDataPut, KinesisRecordsPut, KinesisRecordsDataPut, ErrorsByCode (with
// "code": failed attempts, and records failed before any attempt by the code of the
// cause), UserRecordsFailed (with "code"), UserRecordExpired; the gauge UserRecordsPending; the histograms
// BufferingTime and RequestTime (ms), RetriesPerRecord and UserRecordsPerKinesisRecord
// (per Kinesis record), UserRecordsPerPutRecordsRequest and
// KinesisRecordsPerPutRecordsRequest (per call). Counters are observed from internal
// counters when the SDK collects, so metrics cost nothing per user record. After
// Close they keep their final values until the MeterProvider shuts down, so the usual
// order (Close the producer, then shut the provider down) exports them. Stats returns
// the same counters without OpenTelemetry.
//
// # Performance
//
// The hot path of Put (hash key, aggregation into reused buffers) allocates almost
// nothing per record. Over HTTP the PutRecords calls themselves
// (base64, SHA-256 for the signature, HTTP) cost about as much as the rest of the
// pipeline. The measured figures (records/s, CPU, allocations and heap, against
// a8m/kinesis-producer) are in BENCHMARKS.md at the repository's root (make bench);
// Put's latency distribution is reported by BenchmarkPutLatency and
// BenchmarkPutLatencyPaced (go test -run '^$' -bench PutLatency ./producer/).
package producer
