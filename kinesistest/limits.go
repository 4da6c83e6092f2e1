package kinesistest

import (
	"sync"
	"time"

	"github.com/kinesis-go/kinesis/internal/tokenbucket"
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

// shardLimiter holds one shard's buckets. Its mutex is separate from the
// stream's because readers hold only the stream's read lock.
type shardLimiter struct {
	mu              sync.Mutex
	init            bool
	records, bytes  tokenbucket.Bucket
	gets, readBytes tokenbucket.Bucket
	fanOut          map[string]*tokenbucket.Bucket // by consumer ARN
	fanOutRate      int
	origin          time.Time // the buckets' clock is the time since origin
}

func (l *shardLimiter) refill(lim *Limits, now time.Time) {
	if !l.init {
		l.init = true
		l.origin = now
		l.records = tokenbucket.New(lim.RecordsPerSecond, 0)
		l.bytes = tokenbucket.New(lim.BytesPerSecond, 0)
		l.gets = tokenbucket.New(lim.GetRecordsPerSecond, 0)
		l.readBytes = tokenbucket.New(lim.ReadBytesPerSecond, 0)
		l.fanOutRate = lim.FanOutBytesPerSecond
		return
	}
	t := now.Sub(l.origin)
	l.records.Refill(t)
	l.bytes.Refill(t)
	l.gets.Refill(t)
	l.readBytes.Refill(t)
}

// allowPut charges one record of size bytes; the caller holds l.mu.
func (l *shardLimiter) allowPut(size int) bool {
	if !l.records.Has(1) || !l.bytes.Has(float64(size)) {
		return false
	}
	l.records.Take(1)
	l.bytes.Take(float64(size))
	return true
}

// allowGet charges one GetRecords call; the bytes it returns are charged
// afterwards with chargeRead.
func (l *shardLimiter) allowGet(lim *Limits, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(lim, now)
	if !l.gets.Has(1) || l.readBytes.InDebt() {
		return false
	}
	l.gets.Take(1)
	return true
}

func (l *shardLimiter) chargeRead(n int) {
	l.mu.Lock()
	l.readBytes.Take(float64(n))
	l.mu.Unlock()
}

// fanOutBudget returns how many bytes consumer may receive now (at least 1
// when it may receive anything) and, when it may receive nothing, how long to
// wait.
func (l *shardLimiter) fanOutBudget(lim *Limits, consumer string, now time.Time) (int, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.refill(lim, now)
	if l.fanOut == nil {
		l.fanOut = map[string]*tokenbucket.Bucket{}
	}
	b := l.fanOut[consumer]
	if b == nil {
		nb := tokenbucket.New(l.fanOutRate, now.Sub(l.origin))
		b = &nb
		l.fanOut[consumer] = b
	}
	b.Refill(now.Sub(l.origin))
	if n := b.Available(); n > 0 {
		return n, 0
	}
	return 0, b.Wait(1)
}

func (l *shardLimiter) chargeFanOut(consumer string, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b := l.fanOut[consumer]; b != nil {
		b.Take(float64(n))
	}
}
