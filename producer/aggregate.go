package producer

import (
	"sync"

	"github.com/kinesis-go/kinesis/aggregation"
)

// aggregatePartitionKey is the partition key of an aggregated record, as in the KPL;
// the record is routed by its explicit hash key.
const aggregatePartitionKey = "a"

// aggBuf is a group of user records of one shard on their way to the encoders: an
// aggregate being filled, or plain records (aggregation disabled, or a record too
// big to aggregate) that become one Kinesis record each.
type aggBuf struct {
	shard    *shard
	enc      *aggregation.Encoder // sizes and encodes the aggregate; nil until used
	plain    bool
	recs     []urec
	bytes    int   // plain: sum of len(data)+len(pk)
	created  int64 // arrival of its first record
	deadline int64 // created + RecordMaxBufferedTime
	gen      uint64
	seq      uint64
	next     *aggBuf
}

func (p *Producer) newBuf(s *shard, now int64) *aggBuf {
	b, ok := p.bufs.get()
	if !ok {
		b = new(aggBuf)
	}
	b.shard = s
	b.gen++
	b.created = now
	b.deadline = now + p.linger
	b.plain = p.opts.DisableAggregation
	if b.enc == nil && !b.plain {
		b.enc = aggregation.NewEncoder(p.opts.AggregationMaxSize, p.opts.AggregationMaxCount)
	}
	return b
}

// addTo adds u to b if it fits.
func (p *Producer) addTo(b *aggBuf, u *urec) bool {
	if b.plain {
		n := len(u.rec.Data) + len(u.rec.PartitionKey)
		if len(b.recs) > 0 && (len(b.recs) >= p.opts.CollectionMaxCount || b.bytes+n > p.opts.CollectionMaxSize) {
			return false
		}
		b.bytes += n
	} else if !b.enc.AddHashed(u.rec.PartitionKey, p.pkHash(u), u.rec.ExplicitHashKey, len(u.rec.Data)) {
		return false
	}
	b.recs = append(p.urecs.grow(b.recs), *u)
	return true
}

func (p *Producer) recycleBuf(b *aggBuf) {
	if b.recs != nil {
		p.urecs.put(b.recs)
		b.recs = nil
	}
	if b.enc != nil {
		b.enc.Reset()
	}
	b.shard = nil
	b.bytes = 0
	b.next = nil
	p.bufs.put(b)
}

// pkHash is the hash of u's partition key by which the encoder finds it in the
// aggregate's key table: the low half of its MD5, which is u's hash key, computed
// already to choose the shard, unless an explicit hash key replaced it. Equal keys
// must get equal hashes, or a key would be tabled twice.
func (p *Producer) pkHash(u *urec) uint64 {
	if u.rec.ExplicitHashKey != "" {
		return p.keys.hash(u.rec.PartitionKey).Lo // u.hash is the explicit key
	}
	return u.hash.Lo
}

// getData returns a buffer of capacity at least n for an aggregate's encoding: a
// reused one of AggregationMaxSize bytes when n is at least half that (most
// aggregates are full), else one of exactly n bytes, so that the small aggregates of
// slow shards do not each pin a full-size buffer.
func (p *Producer) getData(n int) *[]byte {
	size := p.opts.AggregationMaxSize
	if n > size || 2*n < size {
		b := make([]byte, 0, n)
		return &b
	}
	if v, ok := p.data.get(); ok {
		*v = (*v)[:0]
		return v
	}
	b := make([]byte, 0, size)
	return &b
}

// putData keeps an aggregate's buffer for reuse if it has the reused size.
func (p *Producer) putData(b *[]byte) {
	if cap(*b) == p.opts.AggregationMaxSize {
		p.data.put(b)
	}
}

// getKrec returns a reset Kinesis record.
func (p *Producer) getKrec() *krec {
	if k, ok := p.krecs.get(); ok {
		return k
	}
	return new(krec)
}

// encodeQueue hands buffers from the router to the encoder goroutines.
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
// aggregate, ~80 us for 50 KB, happen here, off the Put path) and hands them to the
// dispatcher in groups that keep each shard's order.
func (p *Producer) runEncoder() {
	defer p.wg.Done()
	for {
		b := p.enc.pop()
		if b == nil {
			return
		}
		if p.aborting.Load() {
			p.failRecs(b.recs, p.abortErr)
			p.recycleBuf(b)
			continue
		}
		var list krecList
		if b.plain {
			for i := range b.recs {
				k := p.getKrec()
				k.one[0] = b.recs[i]
				k.recs = k.one[:1]
				r := &k.recs[0].rec
				k.pk, k.ehk, k.data = r.PartitionKey, r.ExplicitHashKey, r.Data
				p.initKrec(k, b.shard)
				list.pushBack(k)
			}
		} else {
			k := p.getKrec()
			k.recs, b.recs = b.recs, nil
			if len(k.recs) == 1 {
				// A lone record is sent plain, with its own keys.
				r := &k.recs[0].rec
				k.pk, k.ehk, k.data = r.PartitionKey, r.ExplicitHashKey, r.Data
			} else {
				k.buf = p.getData(b.enc.Size())
				k.data = b.enc.AppendTo(*k.buf, func(i int) []byte { return k.recs[i].rec.Data })
				*k.buf = k.data
				k.pk = aggregatePartitionKey
				if k.ehk = k.recs[0].rec.ExplicitHashKey; k.ehk == "" {
					// Routed by its first record's hash key: all map to the shard.
					k.ehk = k.recs[0].hash.String()
				}
				k.aggregated = true
			}
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
	for i := range k.recs {
		u := &k.recs[i]
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
