package aggregation

import (
	"crypto/md5"
	"math"

	"google.golang.org/protobuf/encoding/protowire"
)

// UserRecord is one record as the application put it, or as it was found inside
// an aggregated Kinesis record.
type UserRecord struct {
	// PartitionKey routes the record (through its MD5) unless ExplicitHashKey is set.
	PartitionKey string
	// ExplicitHashKey, when not empty, is the decimal hash key (0..2^128-1) that
	// routes the record instead of the partition key's MD5.
	ExplicitHashKey string
	// Data is the payload. Records returned by Deaggregate share the input's memory.
	Data []byte
}

// KinesisRecord is what one PutRecords entry carries: either an aggregate of
// several user records or a single user record sent plain.
type KinesisRecord struct {
	// PartitionKey is "a" for an aggregate, else the user record's own key.
	PartitionKey string
	// ExplicitHashKey routes an aggregate to its first record's shard; for a plain
	// record it is the user record's own (possibly empty) ExplicitHashKey.
	ExplicitHashKey string
	// Data is the aggregated encoding, or the plain record's data.
	Data []byte
}

// magic is the 4-byte prefix of every aggregated record.
var magic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// Defaults of NewAggregator, those of the KPL.
const (
	// DefaultMaxSize is KPL's default AggregationMaxSize in bytes, used when
	// maxSize <= 0. Kinesis accepts records up to 1 MiB (more if the stream's
	// limit was raised); bigger aggregates mean fewer records against the
	// 1,000 records/s shard limit but longer waits to fill.
	DefaultMaxSize = 51200

	// DefaultMaxCount is KPL's default AggregationMaxCount (2^32-1, or the largest
	// int on 32-bit platforms), used when maxCount <= 0: in effect no count limit,
	// so maxSize decides.
	DefaultMaxCount = min(math.MaxUint32, math.MaxInt)
)

const (
	// overhead is the fixed part of an aggregate: magic prefix plus MD5 suffix.
	overhead = len(magic) + md5.Size

	// aggregatePartitionKey is the outer partition key KPL gives an aggregate; the
	// aggregate is routed by its ExplicitHashKey, so the value does not matter.
	aggregatePartitionKey = "a"
)

// Protobuf field numbers of the KPL schema (see doc.go).
const (
	fieldPartitionKeyTable    protowire.Number = 1 // AggregatedRecord.partition_key_table
	fieldExplicitHashKeyTable protowire.Number = 2 // AggregatedRecord.explicit_hash_key_table
	fieldRecords              protowire.Number = 3 // AggregatedRecord.records
	fieldPartitionKeyIndex    protowire.Number = 1 // Record.partition_key_index
	fieldExplicitHashKeyIndex protowire.Number = 2 // Record.explicit_hash_key_index
	fieldData                 protowire.Number = 3 // Record.data
	fieldTags                 protowire.Number = 4 // Record.tags (never written, skipped)
)

// Aggregator builds one KPL aggregated record from user records that map to the
// same shard. It keeps the exact encoded size as records are added, so a caller
// can fill aggregates to the byte. Create it with NewAggregator; it is not safe
// for concurrent use. Reuse one Aggregator across Drains: its tables are
// recycled, which keeps encoding at a few allocations per aggregate rather than
// per record. It holds the records and wraps an Encoder, which does the sizing
// and encoding; a producer that keeps its own records can use an Encoder
// directly. Add computes no MD5: only Drain computes one, of the first record's
// partition key, to route the aggregate (the caller already hashed every key to
// choose the shard, so hashing again per record would be waste).
type Aggregator struct {
	enc     Encoder
	records []UserRecord
}

// NewAggregator returns an Aggregator whose aggregates hold at most maxCount user
// records and at most maxSize encoded bytes, counting the 4-byte magic prefix and
// the 16-byte MD5 suffix (the size of the Data the aggregate is sent with).
// maxSize <= 0 means DefaultMaxSize (51200, KPL's default); maxCount <= 0 means
// DefaultMaxCount (KPL's default, effectively unlimited). Kinesis limits the data
// plus partition key of a record (1 MiB by default), so keep maxSize below that.
func NewAggregator(maxSize, maxCount int) *Aggregator {
	a := &Aggregator{}
	a.enc.init(maxSize, maxCount)
	return a
}

// Len returns the number of user records held.
func (a *Aggregator) Len() int { return len(a.records) }

// Size returns the exact size in bytes of the aggregated encoding of the records
// held (magic + protobuf + MD5), or 0 when empty. With one record held, Drain
// sends that record plain, which is smaller than Size; Size stays the aggregated
// size so that it only grows as records are added and is a safe byte budget.
func (a *Aggregator) Size() int { return a.enc.Size() }

// SizeWith returns what Size would be after adding r, whether or not r fits.
func (a *Aggregator) SizeWith(r UserRecord) int {
	return a.enc.SizeWith(r.PartitionKey, r.ExplicitHashKey, len(r.Data))
}

// Add adds r if the aggregate still fits: Size after adding must stay within
// maxSize and Len within maxCount. It returns false and changes nothing
// otherwise; a record too big for even an empty aggregate is refused too, and
// should be sent alone. Add keeps r.Data (no copy) until Drain returns it.
// Keys are not validated here; validate records before aggregating them.
func (a *Aggregator) Add(r UserRecord) bool {
	if !a.enc.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data)) {
		return false
	}
	a.records = append(a.records, r)
	return true
}

// Drain returns the Kinesis record to send and the user records it carries, in
// the order they were added, and resets the Aggregator for reuse.
//
//   - No records: a zero KinesisRecord and nil.
//   - One record: that record plain, with its own PartitionKey, ExplicitHashKey
//     and Data (not copied), so a consumer needs no deaggregation.
//   - Two or more: PartitionKey "a", ExplicitHashKey the decimal hash key of the
//     first record (its ExplicitHashKey if set, else the MD5 of its PartitionKey;
//     all records should map to the same shard), and Data the aggregated encoding,
//     exactly Size bytes, in a new buffer.
func (a *Aggregator) Drain() (KinesisRecord, []UserRecord) {
	n := len(a.records)
	if n == 0 {
		return KinesisRecord{}, nil
	}
	if n == 1 {
		r := a.records[0]
		a.records[0] = UserRecord{} // do not keep r.Data alive
		a.records = a.records[:0]
		a.enc.Reset()
		return KinesisRecord(r), []UserRecord{r}
	}
	// The held slice itself is returned and a new one started: one allocation
	// per aggregate, and no copy or clearing of pointers (which costs write
	// barriers while the GC runs). Its capacity follows recent aggregate sizes,
	// so that filling it rarely reallocates yet a burst is soon forgotten.
	recs := a.records[:n:n]
	a.records = make([]UserRecord, 0, max(n+n/8, cap(a.records)/2))

	out := KinesisRecord{PartitionKey: aggregatePartitionKey, ExplicitHashKey: recs[0].ExplicitHashKey}
	if out.ExplicitHashKey == "" {
		// Only the first key is hashed: the aggregate is routed by it, and the
		// caller already grouped the records by shard.
		out.ExplicitHashKey = HashKey(recs[0].PartitionKey).String()
	}
	out.Data = a.enc.AppendTo(make([]byte, 0, a.enc.Size()), func(i int) []byte { return recs[i].Data })
	a.enc.Reset()
	return out, recs
}
