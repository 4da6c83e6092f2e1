package kinesistest

import (
	"sync"
	"time"
)

// Limits are the per-shard limits of Kinesis Data Streams, which no local
// emulator enforces. Each is a token bucket that holds one second's worth and
// refills continuously by Options.Now, so a test under testing/synctest (or
// with its own clock) sees exact, repeatable throttling. The zero value of a
// field means the AWS limit; a negative value means unlimited.
//
// Over a write limit a PutRecords entry fails inside the HTTP 200 response
// with ErrorCode ProvisionedThroughputExceededException (the other entries
// are stored), and a PutRecord call fails with
// *types.ProvisionedThroughputExceededException; refused records consume
// nothing. A GetRecords call fails with
// *types.ProvisionedThroughputExceededException over the call rate, or while
// the shard's read bytes are in debt: a call may return more than the second's
// worth (up to 10 MiB, like AWS), and the shard then refuses reads until the
// debt is paid back (about 5 s after a 10 MiB read at 2 MiB/s). A
// SubscribeToShard subscription is paced to FanOutBytesPerSecond instead of
// failing.
type Limits struct {
	// RecordsPerSecond is how many records a shard accepts per second. Default
	// 1,000.
	RecordsPerSecond int
	// BytesPerSecond is how many bytes (data plus partition key) a shard
	// accepts per second. Default 1 MiB.
	BytesPerSecond int
	// GetRecordsPerSecond is how many GetRecords calls a shard serves per
	// second, all readers together. Default 5.
	GetRecordsPerSecond int
	// ReadBytesPerSecond is how many data bytes GetRecords returns per shard
	// per second, all readers together. Default 2 MiB.
	ReadBytesPerSecond int
	// FanOutBytesPerSecond is how many data bytes SubscribeToShard pushes per
	// second to each registered consumer on each shard. Default 2 MiB.
	FanOutBytesPerSecond int
}

// AWS's per-shard limits, the defaults of Limits.
const (
	DefaultRecordsPerSecond     = 1000
	DefaultBytesPerSecond       = 1 << 20
	DefaultGetRecordsPerSecond  = 5
	DefaultReadBytesPerSecond   = 2 << 20
	DefaultFanOutBytesPerSecond = 2 << 20
)

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// resolved returns l with its defaults filled in.
func (l Limits) resolved() Limits {
	l.RecordsPerSecond = orDefault(l.RecordsPerSecond, DefaultRecordsPerSecond)
	l.BytesPerSecond = orDefault(l.BytesPerSecond, DefaultBytesPerSecond)
	l.GetRecordsPerSecond = orDefault(l.GetRecordsPerSecond, DefaultGetRecordsPerSecond)
	l.ReadBytesPerSecond = orDefault(l.ReadBytesPerSecond, DefaultReadBytesPerSecond)
	l.FanOutBytesPerSecond = orDefault(l.FanOutBytesPerSecond, DefaultFanOutBytesPerSecond)
	return l
}

// bucket is a token bucket holding at most rate tokens, refilled at rate per
// second. A negative rate never limits.
type bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

func newBucket(rate int, now time.Time) bucket {
	return bucket{rate: float64(rate), tokens: float64(rate), last: now}
}

func (b *bucket) refill(now time.Time) {
	if b.rate < 0 || !now.After(b.last) {
		return
	}
	b.tokens = min(b.rate, b.tokens+b.rate*now.Sub(b.last).Seconds())
	b.last = now
}

// has reports whether n tokens are available; a full bucket admits any single
// request, so one larger than a second's worth is not refused forever.
func (b *bucket) has(n float64) bool { return b.rate < 0 || b.tokens >= n || b.tokens >= b.rate }

// inDebt reports whether more was taken than the bucket held.
func (b *bucket) inDebt() bool { return b.rate >= 0 && b.tokens < 0 }

func (b *bucket) take(n float64) {
	if b.rate >= 0 {
		b.tokens -= n
	}
}

// wait is how long until the bucket holds at least one token.
func (b *bucket) wait() time.Duration {
	if b.rate <= 0 || b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// shardLimiter holds one shard's buckets. Its mutex is separate from the
// stream's because readers hold only the stream's read lock.
type shardLimiter struct {
	mu              sync.Mutex
	init            bool
	records, bytes  bucket
	gets, readBytes bucket
	fanOut          map[string]*bucket // by consumer ARN
	fanOutRate      int
}

func (l *shardLimiter) refill(lim *Limits, now time.Time) {
	if !l.init {
		l.init = true
		l.records = newBucket(lim.RecordsPerSecond, now)
		l.bytes = newBucket(lim.BytesPerSecond, now)
		l.gets = newBucket(lim.GetRecordsPerSecond, now)
		l.readBytes = newBucket(lim.ReadBytesPerSecond, now)
		l.fanOutRate = lim.FanOutBytesPerSecond
		return
	}
	l.records.refill(now)
	l.bytes.refill(now)
	l.gets.refill(now)
	l.readBytes.refill(now)
}

// allowPut charges one record of size bytes; the caller holds l.mu.
func (l *shardLimiter) allowPut(size int) bool {
	if !l.records.has(1) || !l.bytes.has(float64(size)) {
		return false
	}
	l.records.take(1)
	l.bytes.take(float64(size))
	return true
}

// allowGet charges one GetRecords call; the bytes it returns are charged
// afterwards with chargeRead.
func (l *shardLimiter) allowGet(lim *Limits, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(lim, now)
	if !l.gets.has(1) || l.readBytes.inDebt() {
		return false
	}
	l.gets.take(1)
	return true
}

func (l *shardLimiter) chargeRead(n int) {
	l.mu.Lock()
	l.readBytes.take(float64(n))
	l.mu.Unlock()
}

// fanOutBudget returns how many bytes consumer may receive now (at least 1
// when it may receive anything) and, when it may receive nothing, how long to
// wait.
func (l *shardLimiter) fanOutBudget(lim *Limits, consumer string, now time.Time) (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(lim, now)
	if l.fanOutRate < 0 {
		return int(^uint(0) >> 1), 0
	}
	if l.fanOut == nil {
		l.fanOut = map[string]*bucket{}
	}
	b := l.fanOut[consumer]
	if b == nil {
		nb := newBucket(l.fanOutRate, now)
		b = &nb
		l.fanOut[consumer] = b
	}
	b.refill(now)
	if b.tokens < 1 {
		return 0, b.wait()
	}
	return int(b.tokens), 0
}

func (l *shardLimiter) chargeFanOut(consumer string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.fanOut[consumer]; b != nil {
		b.take(float64(n))
	}
}
