// Package kinesistest is an in-process Kinesis Data Streams for tests: the
// Kinesis API served over HTTP to a real *kinesis.Client, with AWS's
// semantics, optional per-shard limits, and controls that script failures.
// It starts in microseconds, needs no emulator, and is closed with the test.
//
//	func TestOrders(t *testing.T) {
//		srv := kinesistest.NewServer(t)
//		if err := srv.CreateStream("orders", 4); err != nil {
//			t.Fatal(err)
//		}
//		client := srv.Client() // a *kinesis.Client: use it as in production
//		...
//	}
//
// Client's connections are in memory, so tests run inside a
// testing/synctest bubble, where time (iterator expiry, retention, limits,
// the 5-minute subscriptions) moves as fast as the test wants. URL serves the
// same API on a loopback port.
//
// # What is modelled
//
//   - Streams: CreateStream (ACTIVE at once; shards with even hash key ranges
//     like AWS; ON_DEMAND without ShardCount gets 4 shards), DeleteStream,
//     DescribeStream, DescribeStreamSummary, ListStreams, ListShards (paging,
//     every ShardFilter type, StreamName or StreamARN or StreamId).
//   - Writes: PutRecord and PutRecords route by ExplicitHashKey or the MD5 of
//     the partition key over the open shards, validate like AWS (entry count,
//     partition key length, record and request size, hash key format) and
//     report a result per record.
//   - Sequence numbers: 56 decimal digits, unique per stream, increasing per
//     shard, comparable as big integers. They encode the shard, so
//     AT/AFTER_SEQUENCE_NUMBER with another shard's number fails like on AWS.
//   - Reads: GetShardIterator (every iterator type; iterators expire after 5
//     minutes), GetRecords (Limit, 10 MiB per call, MillisBehindLatest, and
//     ChildShards with a nil NextShardIterator at the end of a closed shard).
//   - Resharding: SplitShard, MergeShards and UpdateShardCount take effect at
//     once, with parent links like AWS.
//   - Retention: 24 hours by default, IncreaseStreamRetentionPeriod and
//     DecreaseStreamRetentionPeriod; older records are trimmed (readers skip
//     them, their memory is freed) and shards closed longer ago are no longer
//     listed.
//   - Enhanced fan-out: RegisterStreamConsumer, DescribeStreamConsumer,
//     ListStreamConsumers, DeregisterStreamConsumer, and SubscribeToShard as
//     a real event stream: an initial-response event, then events with
//     records, ContinuationSequenceNumber and MillisBehindLatest (and an
//     empty one after SubscriptionHeartbeat of silence), ChildShards in the
//     last event of a closed shard, the end after Options.SubscriptionDuration (5
//     minutes), and ResourceInUseException for a second subscription of the
//     same consumer to the same shard.
//   - Limits (Options.Limits, opt-in): 1,000 records and 1 MiB written per
//     second per shard (ProvisionedThroughputExceededException per
//     PutRecords entry), 5 GetRecords calls and 2 MiB read per second per
//     shard, 2 MiB per second per fan-out consumer and shard, one
//     SubscribeToShard per second per consumer and shard.
//   - Controls (Server.Control): intercept an operation, answer with an
//     error or an output, fail chosen PutRecords entries, sleep, drop the
//     connection, before or after the server applied the call.
//
// # What is not modelled
//
// The CREATING/UPDATING/DELETING states and their delays, encryption,
// tagging, resource policies, stream mode changes, enhanced monitoring,
// account limits (shard count, UpdateShardCount calls per day),
// SequenceNumberForOrdering, and request signing (any credentials work).
//
// Arrival times are kept monotonic per stream and at millisecond precision,
// like AWS. Record Data returned by the in-process API (Server.Kinesis)
// shares the server's storage: do not modify it.
package kinesistest
