package producer

import (
	"errors"
	"time"

	"github.com/kinesis-go/kinesis/internal/tokenbucket"
)

// The producer's own per-shard rate limit: each shard has two token buckets
// (shardQueue.records and .bytes, internal/tokenbucket) filled at Options.RateLimit
// percent of the shard's write limits (1,000 records/s and 1 MiB/s). admitShard
// (dispatch.go) sends a Kinesis record only when both hold enough tokens and otherwise
// wakes when they will (admitsAt); a throttled call empties them and backs the shard
// off (shardQueue.backOff, retry.go). A record that waits past its RecordTTL fails
// with errRateLimited (code "RateLimited").

// initShard sets up a new shard's limiter: RateLimit percent of the shard limits.
func (d *dispatcher) initShard(s *shard) {
	pct, now := d.p.opts.RateLimit, time.Duration(d.p.now())
	s.q.records = tokenbucket.New(shardRecordsPerSec*pct/100, now)
	s.q.bytes = tokenbucket.New(shardBytesPerSec*pct/100, now)
}

// admitsAt returns when the rate limiter lets a Kinesis record of size bytes through.
func (q *shardQueue) admitsAt(size float64, now int64) int64 {
	return now + int64(max(q.records.Wait(1), q.bytes.Wait(size)))
}

var errRateLimited = errors.New("producer: the shard's rate limit (Options.RateLimit) kept the record waiting")
