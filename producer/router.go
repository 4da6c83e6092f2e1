package producer

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is how many records Put hands to the router at a time. At most
// maxQueuedChunks full chunks wait for the router: a Put that finds the queue full
// waits for the router to take it, so that the queue (a copy of the records) stays a
// small constant (about 1 MiB) instead of growing to the whole buffer when Put
// outruns the router. maxFreeChunks emptied chunks are kept for reuse, enough that a
// producer at full speed allocates none.
const (
	chunkSize       = 256
	maxQueuedChunks = 32
	maxFreeChunks   = 2*maxQueuedChunks + 2
)

type chunk struct {
	recs []urec
}

type routerMsgKind int

const (
	msgMap      routerMsgKind = iota // install m
	msgReroute                       // put recs again (wrong shard)
	msgMapError                      // the shard map could not be loaded: err
)

type routerMsg struct {
	kind routerMsgKind
	m    *shardMap
	recs []urec
	err  error
}

// router owns aggregation: one goroutine takes the records Puts queued, hashes their
// partition keys (the MD5 that picks the shard), adds them to their predicted shard's
// aggregate and hands full or expired aggregates to the encoders. Owning all of it on
// one goroutine needs no lock per record and keeps each shard's records in Put order;
// the Put path is left with validation, back-pressure and a copy into a queue.
type router struct {
	p    *Producer
	wake chan struct{}
	poke *time.Timer // wakes an idle router soon after a Put, without a syscall in Put

	mu        sync.Mutex
	full      []*chunk // queued chunks, oldest first
	cur       *chunk   // chunk being filled
	msgs      []routerMsg
	flush     bool // a Flush or Close asks to send every aggregate now
	idle      bool // the router waits for wake
	free      []*chunk
	spareFull []*chunk
	spareMsgs []routerMsg
	queued    atomic.Int32  // len(full), read by Put without the lock
	room      chan struct{} // closed when the router takes the queue; nil: no waiter

	// run goroutine only
	m       *shardMap
	pending []urec // put before any shard map was known
	mapErr  error  // why the shard map is not loaded (nil: not tried yet)
	linger  []lingerItem
	lhead   int
	touched []*shard
	held    []*shard // PreserveOrder: shards whose due aggregate waits for their call
}

// lingerItem is the deadline of an aggregate: when it passes, the aggregate is sent
// however full it is. Aggregates are created in deadline order (first arrival plus a
// constant), so the deadlines form a FIFO.
type lingerItem struct {
	shard    *shard
	gen      uint64
	deadline int64
}

// pokeDelay is how long a record may wait in the queue of an idle router: much less
// than any RecordMaxBufferedTime worth having, and it spares Put the cost of waking
// a thread (a futex call, tens of microseconds on some VMs).
const pokeDelay = 200 * time.Microsecond

func newRouter(p *Producer) *router {
	r := &router{p: p, wake: make(chan struct{}, 1), poke: time.NewTimer(time.Hour)}
	r.poke.Stop()
	return r
}

// push queues a validated record for routing.
func (r *router) push(u *urec) {
	r.mu.Lock()
	c := r.cur
	if c == nil {
		if n := len(r.free); n > 0 {
			c = r.free[n-1]
			r.free = r.free[:n-1]
		} else {
			c = &chunk{recs: make([]urec, 0, chunkSize)}
		}
		r.cur = c
	}
	c.recs = append(c.recs, *u)
	if len(c.recs) == chunkSize {
		r.full = append(r.full, c)
		r.queued.Store(int32(len(r.full)))
		r.cur = nil
	}
	wake := r.idle
	r.idle = false
	r.mu.Unlock()
	if wake {
		if r.p.linger == 0 || r.p.flushing.Load() > 0 {
			r.kick()
		} else {
			r.poke.Reset(pokeDelay)
		}
	}
}

// waitRoom waits while maxQueuedChunks chunks wait for the router, until it takes
// them, ctx ends (its error) or the producer closes (ErrClosed).
func (r *router) waitRoom(ctx context.Context, closing <-chan struct{}) error {
	if r.queued.Load() < maxQueuedChunks {
		return nil
	}
	r.mu.Lock()
	for len(r.full) >= maxQueuedChunks {
		if r.room == nil {
			r.room = make(chan struct{})
		}
		ch := r.room
		r.mu.Unlock()
		if err := waitSignal(ctx, ch, closing); err != nil {
			return err
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	return nil
}

// queueTaken wakes the Puts waiting for room in the queue; r.mu is held and the
// queue was just taken.
func (r *router) queueTaken() {
	r.queued.Store(0)
	if r.room != nil {
		close(r.room)
		r.room = nil
	}
}

// post queues a control message.
func (r *router) post(m routerMsg) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	wake := r.idle
	r.idle = false
	r.mu.Unlock()
	if wake {
		r.kick()
	}
}

// kickBlocked wakes the router because a Put waits for room: once its queue is
// drained it sends its aggregates, since nothing more can come. The dispatcher also
// calls it when a shard with a held aggregate (PreserveOrder) is no longer busy.
func (r *router) kickBlocked() {
	r.mu.Lock()
	r.idle = false
	r.mu.Unlock()
	r.kick()
}

// flushAll asks the router to send every aggregate now.
func (r *router) flushAll() {
	r.mu.Lock()
	r.flush = true
	r.idle = false
	r.mu.Unlock()
	r.kick()
}

func (r *router) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *router) run() {
	p := r.p
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		r.mu.Lock()
		full, cur, msgs, flush := r.full, r.cur, r.msgs, r.flush
		r.full, r.cur, r.msgs, r.flush = r.spareFull[:0], nil, r.spareMsgs[:0], false
		r.spareFull, r.spareMsgs = nil, nil
		r.queueTaken()
		idle := len(full) == 0 && cur == nil && len(msgs) == 0 && !flush
		r.idle = idle
		r.mu.Unlock()

		aborting := p.aborting.Load()
		// Until the first shard map, the records queued in this round were put before
		// it arrived: they join the waiting records first, so that the map routes them
		// all together into full aggregates (not a lone record sent plain behind them).
		// After, messages go first: records put again are older than the queue's.
		first := r.m == nil
		if !first {
			for _, m := range msgs {
				r.handle(m, aborting)
			}
		}
		for _, c := range full {
			r.route(c.recs, aborting)
		}
		if cur != nil {
			r.route(cur.recs, aborting)
		}
		if first {
			for _, m := range msgs {
				r.handle(m, aborting)
			}
		}
		r.sendMarked()
		r.releaseHeld()
		// A Put waiting for room while no call is in flight cannot add to the
		// aggregates until some are written: waiting for them to fill or linger
		// would stall the producer.
		if flush || aborting || (idleQueue(full, cur) && p.stalled()) {
			r.sendAll(aborting)
		}
		now := p.now()
		wakeAt := r.expire(now, aborting)

		// Recycle the chunks, clearing them outside the lock Put needs.
		for _, c := range full {
			clear(c.recs)
			c.recs = c.recs[:0]
		}
		if cur != nil {
			clear(cur.recs)
			cur.recs = cur.recs[:0]
			full = append(full, cur)
		}
		clear(msgs)
		r.mu.Lock()
		// Keep a few free chunks; a burst's worth would stay allocated for good.
		keep := full
		if n := maxFreeChunks - len(r.free); n < len(keep) {
			keep = keep[:max(n, 0)]
		}
		r.free = append(r.free, keep...)
		clear(full)
		r.spareFull, r.spareMsgs = full[:0], msgs[:0]
		r.mu.Unlock()

		if !idle {
			continue
		}
		if wakeAt > 0 {
			timer.Reset(time.Duration(max(wakeAt-p.now(), 0)))
		}
		select {
		case <-r.wake:
		case <-r.poke.C:
		case <-timer.C:
		case <-p.stop:
			r.poke.Stop()
			return
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// idleQueue reports whether a round had no records to route.
func idleQueue(full []*chunk, cur *chunk) bool {
	return len(full) == 0 && (cur == nil || len(cur.recs) == 0)
}

// route adds queued records to their shards' aggregates.
func (r *router) route(recs []urec, aborting bool) {
	if aborting {
		r.p.failRecs(recs, r.p.abortErr)
		return
	}
	for i := range recs {
		r.add(&recs[i], true)
	}
}

// add adds u to the aggregate of its predicted shard. fresh says u comes from Put
// (counted as received; sent at once if a Flush waits for it).
func (r *router) add(u *urec, fresh bool) {
	p := r.p
	if !u.hashed {
		u.hash = p.keys.hash(u.rec.PartitionKey)
		u.hashed = true
	}
	if r.m == nil {
		if fresh {
			p.stats.pendingReceived.Add(1)
		}
		if r.mapErr != nil && !classify(r.mapErr).retryable {
			// The last listing failed for good (no such stream, no permission): fail
			// the record with it now, like those that waited for it, not at the next.
			p.failRecs([]urec{*u}, r.mapErr)
			return
		}
		if u.arrival == 0 {
			u.arrival = p.now()
		}
		r.pending = append(r.pending, *u)
		return
	}
	s := r.m.lookup(u.hash)
	if fresh {
		s.received.Add(1)
	}
	if b := s.cur; b != nil {
		// The arrival time is the aggregate's: the clock is not free, and deadlines
		// and TTLs count from an aggregate's oldest record.
		unset := u.arrival == 0
		if unset {
			u.arrival = b.created
		}
		if p.addTo(b, u) {
			r.flushIfWaited(s, u, fresh)
			return
		}
		if unset {
			u.arrival = 0
		}
		p.enc.push(s.takeCur())
	}
	if u.arrival == 0 {
		u.arrival = p.now()
	}
	b := p.newBuf(s, u.arrival)
	if !p.addTo(b, u) {
		// Too big to aggregate: it goes alone, after what was buffered before it.
		b.plain = true
		b.recs = append(p.urecs.grow(b.recs), *u)
		b.seq = s.nextSeq()
		p.enc.push(b)
		return
	}
	s.cur = b
	if p.linger == 0 {
		// No waiting: the records of this round that share the shard go together.
		r.mark(s)
		return
	}
	r.linger = append(r.linger, lingerItem{shard: s, gen: b.gen, deadline: b.deadline})
	r.flushIfWaited(s, u, fresh)
}

// flushIfWaited marks s to be sent at the end of this round when a Flush waits for
// u: u was put before the Flush began but reached the router after the Flush swept
// the aggregates.
func (r *router) flushIfWaited(s *shard, u *urec, fresh bool) {
	p := r.p
	if fresh && p.flushing.Load() > 0 && u.ep != p.epochs.cur.Load() {
		r.mark(s)
	}
}

// hold keeps s's due aggregate filling while the shard's call is in flight
// (PreserveOrder sends one Kinesis record per shard and call): everything that waits
// for the shard meanwhile joins it, up to AggregationMaxSize, instead of queueing as
// small aggregates that each cost a round trip. It reports whether it held.
func (r *router) hold(s *shard) bool {
	p := r.p
	if !p.opts.PreserveOrder || !s.busy() || p.flushing.Load() > 0 || p.aborting.Load() {
		return false
	}
	if !s.held {
		s.held = true
		r.held = append(r.held, s)
	}
	return true
}

// releaseHeld sends the held aggregates of the shards that are no longer busy.
func (r *router) releaseHeld() {
	if len(r.held) == 0 {
		return
	}
	keep := r.held[:0]
	for _, s := range r.held {
		if !s.held {
			continue // sent meanwhile (full, flushed)
		}
		if s.busy() && r.p.flushing.Load() == 0 && !r.p.aborting.Load() {
			keep = append(keep, s)
			continue
		}
		if b := s.takeCur(); b != nil {
			r.p.enc.push(b)
		}
	}
	clear(r.held[len(keep):])
	r.held = keep
}

func (r *router) mark(s *shard) {
	if !s.touched {
		s.touched = true
		r.touched = append(r.touched, s)
	}
}

// sendMarked sends the aggregates of the shards marked.
func (r *router) sendMarked() {
	for _, s := range r.touched {
		s.touched = false
		if r.hold(s) {
			continue
		}
		if b := s.takeCur(); b != nil {
			r.p.enc.push(b)
		}
	}
	clear(r.touched)
	r.touched = r.touched[:0]
}

// sendAll sends every aggregate now (Flush), or fails them (abort).
func (r *router) sendAll(aborting bool) {
	p := r.p
	if aborting && len(r.pending) > 0 {
		p.failRecs(r.pending, p.abortErr)
		r.pending = nil
	}
	if r.m == nil {
		return
	}
	for _, s := range r.m.shards {
		if b := s.takeCur(); b != nil {
			p.enc.push(b) // the encoders fail it when aborting
		}
	}
}

// expire sends the aggregates whose deadline passed and fails the records that waited
// for a shard map beyond their TTL; it returns when to look again (0: never).
func (r *router) expire(now int64, aborting bool) int64 {
	p := r.p
	for r.lhead < len(r.linger) {
		it := r.linger[r.lhead]
		if it.deadline > now && !aborting {
			break
		}
		r.linger[r.lhead] = lingerItem{}
		r.lhead++
		if b := it.shard.cur; b != nil && b.gen == it.gen && !r.hold(it.shard) {
			p.enc.push(it.shard.takeCur())
		}
	}
	if r.lhead == len(r.linger) {
		r.linger, r.lhead = r.linger[:0], 0
	} else if r.lhead > 1024 && r.lhead*2 > len(r.linger) {
		n := copy(r.linger, r.linger[r.lhead:])
		clear(r.linger[n:])
		r.linger, r.lhead = r.linger[:n], 0
	}
	var wakeAt int64
	if r.lhead < len(r.linger) {
		wakeAt = r.linger[r.lhead].deadline
	}
	if len(r.pending) > 0 {
		cause := r.mapErr
		if cause == nil {
			cause = errMapNotLoaded
		}
		keep := r.pending[:0]
		var failed []urec
		for _, u := range r.pending {
			if u.arrival+p.ttl <= now {
				failed = append(failed, u)
			} else {
				keep = append(keep, u)
			}
		}
		clear(r.pending[len(keep):])
		r.pending = keep
		if len(failed) > 0 {
			p.failRecs(failed, &ExpiredError{TTL: p.opts.RecordTTL, Cause: cause})
		}
		if len(keep) > 0 {
			t := keep[0].arrival + p.ttl
			if wakeAt == 0 || t < wakeAt {
				wakeAt = t
			}
		}
	}
	return wakeAt
}

// handle applies a control message.
func (r *router) handle(m routerMsg, aborting bool) {
	p := r.p
	switch m.kind {
	case msgMap:
		r.install(m.m)
	case msgReroute:
		if aborting {
			p.failRecs(m.recs, p.abortErr)
			return
		}
		r.reroute(m.recs)
	case msgMapError:
		if r.m != nil {
			return
		}
		r.mapErr = m.err
		if !classify(m.err).retryable && len(r.pending) > 0 {
			p.failRecs(r.pending, m.err)
			r.pending = nil
		}
	}
}

// install switches to a new shard map. The records waiting for a map and those in
// the aggregates of shards the map no longer has (closed by a reshard) are routed
// again with it, before any newer record.
func (r *router) install(m *shardMap) {
	p := r.p
	old := r.m
	moved := r.pending
	r.pending = nil
	var retired []string
	if old != nil {
		for _, s := range old.shards {
			if m.has(s) {
				continue
			}
			retired = append(retired, s.id)
			if b := s.cur; b != nil {
				s.cur = nil
				moved = append(moved, b.recs...)
				p.recycleBuf(b)
			}
		}
	}
	r.m = m
	r.mapErr = nil
	p.smap.Store(m)
	r.reroute(moved)
	if old == nil {
		p.log.Debug("kinesis producer: shard map loaded", "shards", len(m.shards))
	} else if len(retired) > 0 || len(old.shards) != len(m.shards) {
		p.log.Info("kinesis producer: shard map changed", "shards", len(m.shards), "closed", retired)
	}
}

// reroute adds records again and sends the aggregates they joined at once: their
// deadline has usually passed.
func (r *router) reroute(recs []urec) {
	for i := range recs {
		r.add(&recs[i], false)
		if r.m != nil {
			r.mark(r.m.lookup(recs[i].hash))
		}
	}
	r.sendMarked()
}
