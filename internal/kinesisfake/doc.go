// Package kinesisfake is a fast, deterministic, in-memory Kinesis Data Streams
// for the unit tests and benchmarks of the producer and the consumer. It is a
// test helper, not a Kinesis implementation: use the kinesis-mock emulator
// (internal/testbed) or AWS for integration tests.
//
// A *Kinesis has the same method signatures as *kinesis.Client for the
// operations it models, so it satisfies the narrow client interfaces the
// producer and consumer declare:
//
//	fake := kinesisfake.New()
//	fake.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(4)})
//	p, err := producer.New(fake, "s")
//
// Handler serves the same operations over the Kinesis JSON 1.1 protocol, for
// code that needs a real *kinesis.Client; Serve starts such a server and
// returns a client for it:
//
//	client, stop := fake.Serve()
//	defer stop()
//
// A client built by hand for Handler should use SafeBodyTransport (see there
// for the SDK race it avoids).
//
// # What is modelled
//
//   - Streams: CreateStream (ACTIVE at once; shards with even hash key ranges
//     like AWS; ON_DEMAND without ShardCount gets 4 shards), DeleteStream,
//     DescribeStream, DescribeStreamSummary, ListStreams, ListShards (paging,
//     every ShardFilter type, StreamName or StreamARN or StreamId).
//   - Writes: PutRecord and PutRecords route by ExplicitHashKey or the MD5 of
//     the partition key over the open shards, and validate like AWS (entry
//     count, partition key length, record and request size, hash key format)
//     with the SDK's error types.
//   - Sequence numbers: 56 decimal digits, unique per stream, increasing per
//     shard (and across the stream), comparable as big integers. They encode the
//     shard, so AT/AFTER_SEQUENCE_NUMBER with another shard's number fails like
//     on AWS.
//   - Reads: GetShardIterator (every iterator type; iterators expire after 5
//     minutes of the Options.Now clock), GetRecords (Limit, a 10 MiB cap per
//     call, MillisBehindLatest, and ChildShards with a nil NextShardIterator at
//     the end of a closed shard).
//   - Resharding: SplitShard, MergeShards and UpdateShardCount take effect at
//     once, with parent links like AWS (see UpdateShardCount for how it is
//     broken into splits and merges).
//   - Test helpers: Records and Shards to inspect state; Stats to count calls
//     and records; CallHook, PutRecordsHook and GetRecordsHook to inject errors
//     and partial PutRecords failures deterministically.
//
// # What is not modelled
//
// Throttling and every per-second limit (use the hooks or internal/faults to
// inject ProvisionedThroughputExceededException), retention and trimming
// (records are kept forever; the trim horizon is the stream's creation), the
// CREATING/UPDATING/DELETING states and their delays, enhanced fan-out
// (RegisterStreamConsumer, SubscribeToShard), encryption, tagging, resource
// policies, stream mode changes, enhanced monitoring, account limits (shard
// count, the ten UpdateShardCount calls a day), SequenceNumberForOrdering, and
// request signing (Handler accepts any credentials). The per-call options
// (optFns) of every method are ignored.
//
// The fake keeps arrival times monotonic per stream (a clock that goes back is
// clamped) and at millisecond precision, like AWS. Record Data returned by
// GetRecords and Records shares the fake's storage: do not modify it.
package kinesisfake
