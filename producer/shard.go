package producer

import (
	"sync/atomic"

	"github.com/kinesis-go/kinesis/aggregation"
)

// shard is a shard of the stream as the producer sees it: the aggregate being filled
// (owned by the router goroutine), the dispatcher's queue and rate limiter (owned by
// the dispatcher goroutine), and counters. A shard's struct lives as long as the
// producer, so that a refresh keeps the aggregates and limiters of the shards that
// remain.
type shard struct {
	id  string
	rng aggregation.HashRange

	// router-owned
	cur     *aggBuf // aggregate being filled, nil when empty
	seq     uint64  // order of the buffers handed to the encoders
	touched bool
	held    bool // PreserveOrder: cur is due but waits for the shard's call in flight

	received atomic.Int64 // UserRecordsReceived

	// idleSeq is, with PreserveOrder, the seq of the last buffer the dispatcher had
	// finished when the shard last had nothing queued or in flight (written by the
	// dispatcher): the shard is busy while seq is ahead of it.
	idleSeq atomic.Uint64

	_ [64]byte // keep the router's side and the dispatcher's on different cache lines

	q     shardQueue // dispatcher-owned
	stats shardStats
}

func (s *shard) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// takeCur detaches the aggregate being filled, with its place in the shard's order.
func (s *shard) takeCur() *aggBuf {
	b := s.cur
	if b == nil {
		return nil
	}
	s.cur = nil
	s.held = false
	b.seq = s.nextSeq()
	return b
}

// busy reports, with PreserveOrder, whether the shard has Kinesis records queued or
// in flight: then its due aggregate keeps filling instead of going out small.
func (s *shard) busy() bool { return s.seq != s.idleSeq.Load() }
