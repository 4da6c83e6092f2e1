package producer

import (
	"crypto/md5"
	"sync"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/kinesis-go/kinesis/aggregation"
)

// aggregatePartitionKey is the partition key of an aggregated record, as in the KPL;
// the record is routed by its explicit hash key.
const aggregatePartitionKey = "a"

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

	received atomic.Int64 // UserRecordsReceived

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
	b.seq = s.nextSeq()
	return b
}

// aggBuf is a group of user records of one shard on their way to the encoders: an
// aggregate being filled, or plain records (aggregation disabled, or a record too
// big to aggregate) that become one Kinesis record each.
type aggBuf struct {
	shard    *shard
	enc      aggEncoder
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
	b := p.bufs.Get().(*aggBuf)
	b.shard = s
	b.gen++
	b.created = now
	b.deadline = now + p.linger
	b.plain = p.opts.DisableAggregation
	b.enc.maxSize, b.enc.maxCount = p.opts.AggregationMaxSize, p.opts.AggregationMaxCount
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
	} else if !b.enc.add(u) {
		return false
	}
	b.recs = append(b.recs, *u)
	return true
}

func (p *Producer) recycleBuf(b *aggBuf) {
	clear(b.recs)
	b.recs = b.recs[:0]
	b.enc.reset()
	b.shard = nil
	b.bytes = 0
	b.next = nil
	p.bufs.Put(b)
}

// Constants of the KPL aggregated record format (see package aggregation).
const (
	aggOverhead = 4 + md5.Size // magic prefix and MD5 suffix
	// Protobuf tags: AggregatedRecord fields 1-3 (length-delimited) and Record fields
	// 1-2 (varint) and 3 (length-delimited), each one byte.
	tagPKTable  = 0x0a // field 1, bytes
	tagEHKTable = 0x12 // field 2, bytes
	tagRecord   = 0x1a // field 3, bytes
	tagPKIndex  = 0x08 // field 1, varint
	tagEHKIndex = 0x10 // field 2, varint
	tagData     = 0x1a // field 3, bytes
)

var aggMagic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

// aggEncoder builds one KPL aggregated record with exact incremental sizing, writing
// the same bytes as aggregation.Aggregator. It is the producer's own so that it works
// on the producer's records in place and encodes into a reused buffer: no copy of
// the records and no allocation per aggregate on the hot path.
type aggEncoder struct {
	maxSize, maxCount int

	// pkIndex finds a partition key in pkTable by the low half of its MD5 (the
	// record's hash key, computed anyway, unless it has an explicit one); a hit is
	// verified, and a collision just tables the key twice.
	pkIndex  pkIndex
	ehkIndex map[string]int32
	pkTable  []string
	ehkTable []string
	entries  []aggEntry // parallel to the buffer's records
	body     int        // exact size of the protobuf AggregatedRecord
}

type aggEntry struct {
	pk, ehk int32 // table indexes; ehk is -1 without an explicit hash key
	inner   int32 // size of the Record message
}

func keySize(k string) int { return 1 + protowire.SizeVarint(uint64(len(k))) + len(k) }

// add accounts for u if the aggregate still fits maxSize and maxCount.
func (e *aggEncoder) add(u *urec) bool {
	if len(e.entries) >= e.maxCount {
		return false
	}
	grow := 0
	lo := u.hash.Lo
	if u.rec.ExplicitHashKey != "" {
		lo = aggregation.HashKey(u.rec.PartitionKey).Lo // u.hash is the explicit key
	}
	pk, found := e.pkIndex.find(lo)
	newPK := !found || e.pkTable[pk] != u.rec.PartitionKey
	if newPK {
		pk = int32(len(e.pkTable))
		grow += keySize(u.rec.PartitionKey)
	}
	inner := 1 + protowire.SizeVarint(uint64(pk))
	ehk := int32(-1)
	newEHK := false
	if u.rec.ExplicitHashKey != "" {
		if e.ehkIndex == nil {
			e.ehkIndex = make(map[string]int32)
		}
		var ok bool
		if ehk, ok = e.ehkIndex[u.rec.ExplicitHashKey]; !ok {
			ehk, newEHK = int32(len(e.ehkTable)), true
			grow += keySize(u.rec.ExplicitHashKey)
		}
		inner += 1 + protowire.SizeVarint(uint64(ehk))
	}
	n := len(u.rec.Data)
	inner += 1 + protowire.SizeVarint(uint64(n)) + n
	grow += 1 + protowire.SizeVarint(uint64(inner)) + inner
	if aggOverhead+e.body+grow > e.maxSize {
		return false
	}
	if newPK {
		if !found {
			e.pkIndex.insert(lo, pk)
		}
		e.pkTable = append(e.pkTable, u.rec.PartitionKey)
	}
	if newEHK {
		e.ehkIndex[u.rec.ExplicitHashKey] = ehk
		e.ehkTable = append(e.ehkTable, u.rec.ExplicitHashKey)
	}
	e.entries = append(e.entries, aggEntry{pk: pk, ehk: ehk, inner: int32(inner)})
	e.body += grow
	return true
}

// size is the exact length of the encoding.
func (e *aggEncoder) size() int { return aggOverhead + e.body }

// encode appends the aggregated record of recs (the records added, in order) to dst.
func (e *aggEncoder) encode(dst []byte, recs []urec) []byte {
	b := append(dst, aggMagic[:]...)
	start := len(b)
	for _, k := range e.pkTable {
		b = append(b, tagPKTable)
		b = protowire.AppendVarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	for _, k := range e.ehkTable {
		b = append(b, tagEHKTable)
		b = protowire.AppendVarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	for i := range e.entries {
		en := &e.entries[i]
		b = append(b, tagRecord)
		b = protowire.AppendVarint(b, uint64(en.inner))
		// Fields 1 and 3 are proto2 "required": always written, even when zero.
		b = append(b, tagPKIndex)
		b = protowire.AppendVarint(b, uint64(en.pk))
		if en.ehk >= 0 {
			b = append(b, tagEHKIndex)
			b = protowire.AppendVarint(b, uint64(en.ehk))
		}
		data := recs[i].rec.Data
		b = append(b, tagData)
		b = protowire.AppendVarint(b, uint64(len(data)))
		b = append(b, data...)
	}
	sum := md5.Sum(b[start:])
	return append(b, sum[:]...)
}

func (e *aggEncoder) reset() {
	e.pkIndex.reset()
	clear(e.ehkIndex)
	clear(e.pkTable)
	e.pkTable = e.pkTable[:0]
	clear(e.ehkTable)
	e.ehkTable = e.ehkTable[:0]
	e.entries = e.entries[:0]
	e.body = 0
}

// pkIndex is an open-addressing hash table from the low half of a partition key's
// MD5 (already uniformly distributed) to its index in the key table: cheaper than a
// map on the Put path.
type pkIndex struct {
	slots []pkSlot // a power of two long, at most half full
	used  int
}

type pkSlot struct {
	lo  uint64
	idx int32 // table index + 1; 0 marks a free slot
}

func (t *pkIndex) find(lo uint64) (int32, bool) {
	if t.used == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := lo & mask; ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.idx == 0 {
			return 0, false
		}
		if s.lo == lo {
			return s.idx - 1, true
		}
	}
}

func (t *pkIndex) insert(lo uint64, idx int32) {
	if (t.used+1)*2 > len(t.slots) {
		old := t.slots
		t.slots = make([]pkSlot, max(64, 2*len(old)))
		t.used = 0
		for _, s := range old {
			if s.idx != 0 {
				t.insert(s.lo, s.idx-1)
			}
		}
	}
	mask := uint64(len(t.slots) - 1)
	i := lo & mask
	for t.slots[i].idx != 0 {
		i = (i + 1) & mask
	}
	t.slots[i] = pkSlot{lo: lo, idx: idx + 1}
	t.used++
}

func (t *pkIndex) reset() {
	if t.used > 0 {
		clear(t.slots)
		t.used = 0
	}
}

// getData returns a buffer of capacity at least n for an aggregate's encoding.
func (p *Producer) getData(n int) *[]byte {
	if v, ok := p.data.Get().(*[]byte); ok && cap(*v) >= n {
		*v = (*v)[:0]
		return v
	}
	b := make([]byte, 0, max(n, p.opts.AggregationMaxSize))
	return &b
}

// putData keeps an aggregate's buffer for reuse.
func (p *Producer) putData(b *[]byte) { p.data.Put(b) }

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
				k := p.krecs.Get().(*krec)
				k.one[0] = b.recs[i]
				k.recs = k.one[:1]
				r := &k.recs[0].rec
				k.pk, k.ehk, k.data = r.PartitionKey, r.ExplicitHashKey, r.Data
				p.initKrec(k, b.shard)
				list.pushBack(k)
			}
		} else {
			k := p.krecs.Get().(*krec)
			k.recs, b.recs = b.recs, k.spare[:0]
			k.spare = nil
			if len(k.recs) == 1 {
				// A lone record is sent plain, with its own keys.
				r := &k.recs[0].rec
				k.pk, k.ehk, k.data = r.PartitionKey, r.ExplicitHashKey, r.Data
			} else {
				k.buf = p.getData(b.enc.size())
				k.data = b.enc.encode(*k.buf, k.recs)
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
