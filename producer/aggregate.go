package producer

import (
	"sync"
	"time"

	"github.com/kinesis-go/kinesis/aggregation"
)

// shard is a shard of the stream as the producer sees it: the aggregate being filled
// by Puts (guarded by mu), the dispatcher's queue and rate limiter (owned by the
// dispatcher goroutine), and counters. A shard's struct lives as long as the producer,
// so that a refresh keeps the aggregates and limiters of the shards that remain.
type shard struct {
	id  string
	rng aggregation.HashRange

	mu       sync.Mutex
	cur      *aggBuf // aggregate being filled, nil when empty
	retired  bool    // closed by a reshard: Puts must look again
	seq      uint64  // order of the buffers handed to the encoders
	received int64   // UserRecordsReceived

	_ [64]byte // keep the Put side and the dispatcher side on different cache lines

	q     shardQueue // dispatcher-owned
	stats shardStats
}

func (s *shard) nextSeq() uint64 {
	s.seq++
	return s.seq
}

// takeCur detaches the aggregate being filled, with its place in the shard's order.
// s.mu must be held.
func (s *shard) takeCur() *aggBuf {
	b := s.cur
	if b == nil {
		return nil
	}
	s.cur = nil
	b.seq = s.nextSeq()
	return b
}

// aggBuf is a group of user records of one shard on their way to the encoders: an
// aggregate being filled, or plain records (aggregation disabled, or a record too
// big to aggregate) that become one Kinesis record each.
type aggBuf struct {
	shard    *shard
	agg      *aggregation.Aggregator
	plain    bool
	recs     []*urec
	bytes    int // plain: sum of len(data)+len(pk)
	gen      uint64
	seq      uint64
	deadline int64
	next     *aggBuf
}

func (p *Producer) newBuf(s *shard, arrival int64) *aggBuf {
	b := p.bufs.Get().(*aggBuf)
	b.shard = s
	b.gen++
	b.deadline = arrival + p.linger
	b.plain = p.opts.DisableAggregation
	if !b.plain && b.agg == nil {
		b.agg = aggregation.NewAggregator(p.opts.AggregationMaxSize, p.opts.AggregationMaxCount)
	}
	return b
}

// addTo adds u to b if it fits.
func (p *Producer) addTo(b *aggBuf, u *urec) bool {
	if b.plain {
		return b.addPlain(u, p.opts.CollectionMaxCount, p.opts.CollectionMaxSize)
	}
	if !b.agg.Add(aggregation.UserRecord(u.rec)) {
		return false
	}
	b.recs = append(b.recs, u)
	return true
}

// addPlain adds u to a plain buffer of at most maxCount records and maxSize bytes.
func (b *aggBuf) addPlain(u *urec, maxCount, maxSize int) bool {
	n := len(u.rec.Data) + len(u.rec.PartitionKey)
	if len(b.recs) > 0 && (len(b.recs) >= maxCount || b.bytes+n > maxSize) {
		return false
	}
	b.recs = append(b.recs, u)
	b.bytes += n
	return true
}

func (p *Producer) recycleBuf(b *aggBuf) {
	clear(b.recs)
	b.recs = b.recs[:0]
	b.shard = nil
	b.bytes = 0
	b.next = nil
	p.bufs.Put(b)
}

// encodeQueue hands buffers from Puts to the encoder goroutines without blocking Put.
type encodeQueue struct {
	mu      sync.Mutex
	cond    sync.Cond
	head    *aggBuf
	tail    *aggBuf
	stopped bool
}

func newEncodeQueue() *encodeQueue {
	q := &encodeQueue{}
	q.cond.L = &q.mu
	return q
}

func (q *encodeQueue) push(b *aggBuf) {
	b.next = nil
	q.mu.Lock()
	if q.tail == nil {
		q.head = b
	} else {
		q.tail.next = b
	}
	q.tail = b
	q.mu.Unlock()
	q.cond.Signal()
}

// pop waits for a buffer; nil when stopped and empty.
func (q *encodeQueue) pop() *aggBuf {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.head == nil {
		if q.stopped {
			return nil
		}
		q.cond.Wait()
	}
	b := q.head
	q.head = b.next
	if q.head == nil {
		q.tail = nil
	}
	b.next = nil
	return b
}

func (q *encodeQueue) kick() { q.cond.Broadcast() }

func (q *encodeQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
	q.cond.Broadcast()
}

// runEncoder turns buffers into Kinesis records (the protobuf encoding and MD5 of an
// aggregate, ~80 us for 50 KB, happen here, off the Put path and outside any lock a
// Put needs) and hands them to the dispatcher in groups that keep each shard's order.
func (p *Producer) runEncoder() {
	defer p.wg.Done()
	for {
		b := p.enc.pop()
		if b == nil {
			return
		}
		if p.aborting.Load() {
			if b.agg != nil {
				b.agg.Drain()
			}
			p.failRecs(b.recs, p.abortErr)
			p.recycleBuf(b)
			continue
		}
		var list krecList
		if b.plain {
			for _, u := range b.recs {
				k := p.krecs.Get().(*krec)
				k.one[0] = u
				k.recs = k.one[:1]
				k.pk, k.ehk, k.data = u.rec.PartitionKey, u.rec.ExplicitHashKey, u.rec.Data
				p.initKrec(k, b.shard)
				list.pushBack(k)
			}
		} else {
			kr, _ := b.agg.Drain()
			k := p.krecs.Get().(*krec)
			k.recs, b.recs = b.recs, k.spare[:0]
			k.spare = nil
			k.pk, k.ehk, k.data = kr.PartitionKey, kr.ExplicitHashKey, kr.Data
			k.aggregated = len(k.recs) > 1
			p.initKrec(k, b.shard)
			list.pushBack(k)
		}
		p.disp.postGroup(b.shard, b.seq, &list)
		p.recycleBuf(b)
	}
}

// initKrec fills in what the pipeline needs to know about k's user records.
func (p *Producer) initKrec(k *krec, s *shard) {
	k.shard = s
	k.size = len(k.data) + len(k.pk)
	oldest := k.recs[0].arrival
	var userBytes int64
	for i, u := range k.recs {
		u.sub = int32(i)
		oldest = min(oldest, u.arrival)
		userBytes += int64(len(u.rec.Data))
	}
	k.userBytes = userBytes
	k.oldest = oldest
	k.lastEnd = oldest
	k.deadline = oldest + p.linger
	k.expiry = oldest + p.ttl
}

// lingerItem is the deadline of an aggregate: when it passes, the aggregate is sent
// however full it is.
type lingerItem struct {
	shard    *shard
	buf      *aggBuf
	gen      uint64
	deadline int64
}

// lingerQueue holds aggregate deadlines in the order they were created; since every
// deadline is its first record's arrival plus the same RecordMaxBufferedTime, that is
// deadline order, and a FIFO is enough.
type lingerQueue struct {
	mu      sync.Mutex
	items   []lingerItem
	head    int
	wake    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newLingerQueue() *lingerQueue {
	return &lingerQueue{wake: make(chan struct{}, 1), stopped: make(chan struct{})}
}

func (q *lingerQueue) push(it lingerItem) {
	q.mu.Lock()
	wasEmpty := q.head == len(q.items)
	q.items = append(q.items, it)
	q.mu.Unlock()
	if wasEmpty {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

func (q *lingerQueue) stop() { q.once.Do(func() { close(q.stopped) }) }

// runLinger sends aggregates whose deadline passed.
func (p *Producer) runLinger() {
	defer p.wg.Done()
	q := p.lingerQ
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		q.mu.Lock()
		if q.head == len(q.items) {
			q.items = q.items[:0]
			q.head = 0
			q.mu.Unlock()
			select {
			case <-q.wake:
				continue
			case <-q.stopped:
				return
			}
		}
		it := q.items[q.head]
		now := p.now()
		if it.deadline > now {
			q.mu.Unlock()
			timer.Reset(time.Duration(it.deadline - now))
			select {
			case <-timer.C:
			case <-q.wake:
				if !timer.Stop() {
					<-timer.C
				}
			case <-q.stopped:
				return
			}
			continue
		}
		q.items[q.head] = lingerItem{}
		q.head++
		if q.head > 1024 && q.head*2 > len(q.items) {
			n := copy(q.items, q.items[q.head:])
			q.items = q.items[:n]
			q.head = 0
		}
		q.mu.Unlock()

		// it.buf may have been sent and recycled since: it is only read while it is
		// still s's current aggregate, which s.mu guards.
		s := it.shard
		s.mu.Lock()
		var b *aggBuf
		if s.cur == it.buf && it.buf.gen == it.gen {
			b = s.takeCur()
		}
		s.mu.Unlock()
		if b != nil {
			p.enc.push(b)
		}
	}
}
