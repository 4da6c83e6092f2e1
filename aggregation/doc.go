// Package aggregation implements the KPL aggregated record format: packing many
// small user records into one Kinesis record (Aggregator), unpacking them again
// (Deaggregate), and the 128-bit hash keys that route records to shards (Hash128).
//
// # Wire format
//
// An aggregated record's data is
//
//	[4-byte magic F3 89 9A C2][protobuf AggregatedRecord][16-byte MD5 of the protobuf bytes]
//
// with this proto2 schema:
//
//	message AggregatedRecord {
//	  repeated string partition_key_table     = 1;
//	  repeated string explicit_hash_key_table = 2;
//	  repeated Record records                 = 3;
//	}
//	message Record {
//	  required uint64 partition_key_index     = 1;
//	  optional uint64 explicit_hash_key_index = 2;
//	  required bytes  data                    = 3;
//	  repeated Tag    tags                    = 4;
//	}
//	message Tag { required string key = 1; optional string value = 2; }
//
// The key tables are deduplicated; an explicit hash key is tabled only for records
// that have one. The required fields are always written, even when zero or empty:
// the Java KCL cannot parse a Record without them and would then deliver the whole
// blob as one raw record. Tags are never written and are skipped when read.
//
// # Sizes
//
// Aggregator.Size is the exact length of the Data that Drain will produce for two
// or more records, magic and MD5 included, and Aggregator.Add refuses a record
// that would take it past the aggregator's maxSize (default 51200 bytes, as in the
// KPL) or its record count past maxCount. Size is 0 when empty. A single record is
// drained plain (its own keys, no magic, protobuf or MD5), so with one record held
// Size is an upper bound rather than the exact length. A record that does not fit
// even an empty aggregator should be sent on its own, unaggregated.
//
// Aggregator holds the records; its sizing and encoding are done by an Encoder,
// which holds only their keys and data lengths. A producer that keeps its own
// records (with callbacks, arrival times, ...) can use an Encoder directly: it
// gives the same exact sizes and bytes, and encodes straight from the caller's
// records into a reused buffer with no copy and no allocation per aggregate.
//
// An aggregate is sent with partition key "a" and, as explicit hash key, the hash
// key of its first record, so it lands where that record would. The caller must
// only aggregate records that map to the same shard: consumers check sub-records
// against the shard's hash key range.
//
// # Reading aggregates
//
// Deaggregate follows the KCL: data is an aggregate only if it starts with the
// magic, is longer than 20 bytes and its MD5 matches (IsAggregated); anything else
// is returned unchanged as one record. The sub-records come back in order, and
// the index of each is its subsequence number: consumers checkpoint a position
// inside an aggregate as (sequence number, subsequence number). An aggregate whose
// checksum is valid but whose protobuf is not (a bug in whatever wrote it) is an
// error wrapping ErrMalformed rather than silently delivered as one raw record.
//
// # Hash-range filtering after a reshard
//
// After a shard splits or merges, an aggregate read from a shard can contain
// sub-records whose hash keys (UserRecord.HashKey) lie outside that shard's range
// (HashRange, from the shard's HashKeyRange via ParseHashRange). The KCL drops
// such an aggregate whole. A consumer of this package should instead drop only
// the out-of-range sub-records, individually, keeping every other sub-record and
// its subsequence number: FilterHashRange does that. Nothing is lost when the
// producer, like this module's, re-puts every record that landed on a shard other
// than the one it predicted, since each out-of-range record then also exists on
// the right shard.
package aggregation
