package faults

import (
	"time"

	"github.com/kinesis-go/kinesis/internal/tokenbucket"
)

// ShardLimits are the per-shard rates Kinesis enforces and kinesis-mock does not. Each is
// a token bucket that holds one second's worth and refills continuously by Options.Now
// (so with a fake clock that does not move, a burst gets exactly one second's worth).
//
// Over the limit, a PutRecords entry fails inside the HTTP 200 with ErrorCode
// ProvisionedThroughputExceededException (the others are written); a PutRecord or
// GetRecords call fails with HTTP 400 ProvisionedThroughputExceededException. Rejected
// work consumes nothing. Not modelled: the 2 MiB/s GetRecords read limit, the 10 MiB
// GetRecords response that blocks the shard for 5 s, and enhanced fan-out limits.
type ShardLimits struct {
	// RecordsPerSecond is how many records a shard accepts per second. Default 1,000, as
	// AWS. Negative: unlimited.
	RecordsPerSecond int
	// BytesPerSecond is how many bytes (data plus partition key) a shard accepts per
	// second. Default 1 MiB, as AWS. Negative: unlimited.
	BytesPerSecond int
	// GetRecordsPerSecond is how many GetRecords calls a shard serves per second. Default
	// 5, as AWS. Negative: unlimited.
	GetRecordsPerSecond int
}

func (l ShardLimits) resolved() ShardLimits {
	if l.RecordsPerSecond == 0 {
		l.RecordsPerSecond = 1000
	}
	if l.BytesPerSecond == 0 {
		l.BytesPerSecond = 1 << 20
	}
	if l.GetRecordsPerSecond == 0 {
		l.GetRecordsPerSecond = 5
	}
	return l
}

type shardBuckets struct {
	records, bytes, gets tokenbucket.Bucket
	origin               time.Time // the buckets' clock is the time since origin
}

// bucketsFor returns k's buckets, refilled to now; i.mu must be held.
func (i *Injector) bucketsFor(k shardKey, now time.Time) *shardBuckets {
	b, ok := i.buckets[k]
	if !ok {
		b = &shardBuckets{
			records: tokenbucket.New(i.limit.RecordsPerSecond, 0),
			bytes:   tokenbucket.New(i.limit.BytesPerSecond, 0),
			gets:    tokenbucket.New(i.limit.GetRecordsPerSecond, 0),
			origin:  now,
		}
		i.buckets[k] = b
	}
	t := now.Sub(b.origin)
	b.records.Refill(t)
	b.bytes.Refill(t)
	b.gets.Refill(t)
	return b
}

type putSize struct {
	shard string
	bytes int
}

// allowPut charges each record to its shard's buckets in order and reports which fit.
// Records of an unknown shard ("") share one bucket per stream.
func (i *Injector) allowPut(c *Call, recs []putSize) []bool {
	ok := make([]bool, len(recs))
	now := i.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	for k, r := range recs {
		b := i.bucketsFor(shardKey{c.Stream, r.shard}, now)
		if b.records.Has(1) && b.bytes.Has(float64(r.bytes)) {
			b.records.Take(1)
			b.bytes.Take(float64(r.bytes))
			ok[k] = true
		} else {
			i.injected[c.Op]++
		}
	}
	return ok
}

// allowGet charges a GetRecords call to its shard.
func (i *Injector) allowGet(c *Call) bool {
	now := i.now()
	i.mu.Lock()
	defer i.mu.Unlock()
	b := i.bucketsFor(shardKey{c.Stream, c.Shard}, now)
	if !b.gets.Has(1) {
		i.injected[c.Op]++
		return false
	}
	b.gets.Take(1)
	return true
}
