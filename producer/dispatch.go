package producer

import (
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/awserr"
	"github.com/kinesis-go/kinesis/internal/tokenbucket"
)

// shardQueue is the dispatcher's state of a shard: Kinesis records waiting to be
// sent, in order, its rate limiter and its throttling backoff. Only the dispatcher
// goroutine touches it.
type shardQueue struct {
	next  uint64       // seq of the next group from the encoders
	early []earlyGroup // groups that arrived before their turn
	fresh krecList
	retry krecList

	records, bytes tokenbucket.Bucket
	throttles      int   // consecutive throttled attempts
	blockedUntil   int64 // throttling backoff
	busy           int   // PreserveOrder: records admitted and not done
	active         bool
}

type earlyGroup struct {
	seq  uint64
	list krecList
}

func (q *shardQueue) empty() bool {
	return q.fresh.head == nil && q.retry.head == nil && len(q.early) == 0
}

// batch is one PutRecords call.
type batch struct {
	recs     []*krec
	size     int
	deadline int64
	ahead    int64    // bytes in flight, its own included, when it was sent
	shards   []*shard // PreserveOrder: the shards whose busy count it holds
	entries  []types.PutRecordsRequestEntry
	input    kinesis.PutRecordsInput
}

// sendResult is what a finished call hands back to the dispatcher.
type sendResult struct {
	b         *batch
	took      time.Duration
	measured  bool // took says something about the endpoint's throughput
	retries   krecList
	throttled []*shard
	ok        []*shard
}

type groupEvent struct {
	s    *shard
	seq  uint64
	list krecList
}

// dispatcher takes Kinesis records from the encoders and the retrier, passes them
// through each shard's rate limiter into PutRecords batches, and starts at most
// MaxConnections calls. One goroutine (run) owns the queues; others post to its inbox.
type dispatcher struct {
	p    *Producer
	wake chan struct{}

	mu      sync.Mutex
	groups  []groupEvent
	results []sendResult
	spareG  []groupEvent
	spareR  []sendResult

	// run goroutine only
	active   []*shard
	cur      *batch
	ready    []*batch
	inflight int
	free     []*batch
	window   sendWindow
}

func newDispatcher(p *Producer) *dispatcher {
	return &dispatcher{p: p, wake: make(chan struct{}, 1), window: newSendWindow(&p.opts)}
}

func (d *dispatcher) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) postGroup(s *shard, seq uint64, list *krecList) {
	d.mu.Lock()
	d.groups = append(d.groups, groupEvent{s, seq, *list})
	d.mu.Unlock()
	d.kick()
}

func (d *dispatcher) postResult(r sendResult) {
	d.mu.Lock()
	d.results = append(d.results, r)
	d.mu.Unlock()
	d.kick()
}

func (d *dispatcher) run() {
	p := d.p
	defer p.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		groups, results := d.groups, d.results
		d.groups, d.results = d.spareG[:0], d.spareR[:0]
		d.mu.Unlock()

		now := p.now()
		for i := range results {
			d.finished(&results[i], now)
			results[i] = sendResult{}
		}
		for i := range groups {
			d.enqueue(&groups[i])
			groups[i] = groupEvent{}
		}
		d.spareG, d.spareR = groups[:0], results[:0]

		if p.aborting.Load() {
			d.failAll(p.abortErr)
		} else {
			wakeAt := d.admit(now)
			if d.cur != nil && (d.cur.deadline <= now || p.flushing.Load() > 0 || p.stalled()) {
				d.cut()
			}
			d.launch()
			if d.cur != nil && (wakeAt == 0 || d.cur.deadline < wakeAt) {
				wakeAt = d.cur.deadline
			}
			if wakeAt > 0 {
				if !timer.Stop() {
					select {
					case <-timer.C:
					default:
					}
				}
				timer.Reset(time.Duration(max(wakeAt-p.now(), 0)))
			}
		}

		select {
		case <-d.wake:
		case <-timer.C:
		case <-p.stop:
			if d.inflight == 0 {
				return
			}
			// Calls still finishing (aborted): wait for their results.
			select {
			case <-d.wake:
			case <-timer.C:
			}
		}
	}
}

// enqueue queues a group from the encoders in its shard's order.
func (d *dispatcher) enqueue(g *groupEvent) {
	q := &g.s.q
	d.activate(g.s)
	if g.seq != q.next+1 {
		i := len(q.early)
		for i > 0 && q.early[i-1].seq > g.seq {
			i--
		}
		q.early = append(q.early, earlyGroup{})
		copy(q.early[i+1:], q.early[i:])
		q.early[i] = earlyGroup{g.seq, g.list}
		return
	}
	q.fresh.appendList(&g.list)
	q.next++
	for len(q.early) > 0 && q.early[0].seq == q.next+1 {
		q.fresh.appendList(&q.early[0].list)
		q.next++
		q.early[0] = earlyGroup{}
		q.early = q.early[1:]
	}
}

// checkIdle publishes, with PreserveOrder, that s has nothing queued or in flight,
// and wakes the router if it holds an aggregate for s (see router.hold).
func (d *dispatcher) checkIdle(s *shard) {
	q := &s.q
	if !d.p.opts.PreserveOrder || q.busy > 0 || !q.empty() || s.idleSeq.Load() == q.next {
		return
	}
	s.idleSeq.Store(q.next)
	d.p.router.kickBlocked()
}

func (d *dispatcher) activate(s *shard) {
	if !s.q.active {
		s.q.active = true
		d.active = append(d.active, s)
	}
}

// finished processes a call's outcome: connection freed, retries queued, throttling.
func (d *dispatcher) finished(r *sendResult, now int64) {
	d.inflight--
	d.p.inflight.Add(-1)
	d.window.answered(r.b.size, r.b.ahead, r.took, r.measured)
	for _, s := range r.b.shards {
		s.q.busy--
	}
	for _, s := range r.throttled {
		s.q.backOff(now)
	}
	for _, s := range r.ok {
		s.q.throttles = 0
	}
	for k := r.retries.popFront(); k != nil; k = r.retries.popFront() {
		d.activate(k.shard)
		d.requeue(k)
	}
	for _, s := range r.b.shards {
		d.checkIdle(s)
	}
	clear(r.b.recs)
	r.b.recs = r.b.recs[:0]
	clear(r.b.entries)
	r.b.entries = r.b.entries[:0]
	r.b.shards = r.b.shards[:0]
	r.b.input = kinesis.PutRecordsInput{}
	d.free = append(d.free, r.b)
}

// admit moves what each active shard may send now into batches and returns when to
// look again (0: nothing to wait for).
func (d *dispatcher) admit(now int64) int64 {
	var wakeAt int64
	earliest := func(t int64) {
		if t > now && (wakeAt == 0 || t < wakeAt) {
			wakeAt = t
		}
	}
	for i := 0; i < len(d.active); {
		s := d.active[i]
		earliest(d.admitShard(s, now))
		if s.q.empty() {
			d.checkIdle(s)
			s.q.active = false
			last := len(d.active) - 1
			d.active[i] = d.active[last]
			d.active[last] = nil
			d.active = d.active[:last]
			continue
		}
		i++
	}
	return wakeAt
}

// admitShard moves s's records that the limiter lets through into batches.
func (d *dispatcher) admitShard(s *shard, now int64) int64 {
	p := d.p
	q := &s.q
	var wakeAt int64
	earliest := func(t int64) {
		if t > now && (wakeAt == 0 || t < wakeAt) {
			wakeAt = t
		}
	}
	// Expire what waited too long, retries and the oldest fresh records.
	for k := q.retry.head; k != nil; {
		next := k.next
		if k.expiry <= now {
			d.removeRetry(q, k)
			p.expire(k, d.waitCause(q, k))
		} else {
			earliest(k.expiry)
		}
		k = next
	}
	for k := q.fresh.head; k != nil && k.expiry <= now; k = q.fresh.head {
		q.fresh.popFront()
		p.expire(k, d.waitCause(q, k))
	}
	if k := q.fresh.head; k != nil {
		earliest(k.expiry)
	}
	if now < q.blockedUntil {
		earliest(q.blockedUntil)
		return wakeAt
	}
	order := p.opts.PreserveOrder
	if order && q.busy > 0 {
		return wakeAt // the shard's call in flight will wake us
	}
	q.records.Refill(time.Duration(now))
	q.bytes.Refill(time.Duration(now))
	fits := func(k *krec) bool {
		size := float64(k.size)
		if q.records.Has(1) && q.bytes.Has(size) {
			return true
		}
		earliest(q.admitsAt(size, now))
		return false
	}
	admit := func(k *krec) {
		q.records.Take(1)
		q.bytes.Take(float64(k.size))
		b := d.add(k)
		if order {
			q.busy++
			b.shards = append(b.shards, s)
		}
	}
	// Retries first: with PreserveOrder the oldest must go before anything else.
	for k := q.retry.head; k != nil; {
		next := k.next
		if k.notBefore > now {
			earliest(k.notBefore)
			if order {
				return wakeAt
			}
			k = next
			continue
		}
		if !fits(k) {
			return wakeAt
		}
		d.removeRetry(q, k)
		admit(k)
		if order {
			return wakeAt
		}
		k = next
	}
	for k := q.fresh.head; k != nil; k = q.fresh.head {
		if !fits(k) {
			return wakeAt
		}
		q.fresh.popFront()
		admit(k)
		if order {
			return wakeAt
		}
	}
	return wakeAt
}

// waitCause is why a record that never left its queue expired.
func (d *dispatcher) waitCause(q *shardQueue, k *krec) error {
	if k.lastErr != nil {
		return k.lastErr
	}
	if q.throttles > 0 {
		return fmt.Errorf("producer: the shard is throttled (%s) and backing off", awserr.CodeThroughputExceeded)
	}
	return errRateLimited
}

// add puts k into the batch being filled, cutting it when full.
func (d *dispatcher) add(k *krec) *batch {
	opts := &d.p.opts
	if d.cur != nil && d.cur.size+k.size > d.window.callSize(opts.CollectionMaxSize) {
		d.cut()
	}
	if d.cur == nil {
		if n := len(d.free); n > 0 {
			d.cur = d.free[n-1]
			d.free = d.free[:n-1]
		} else {
			d.cur = &batch{}
		}
		d.cur.size = 0
		d.cur.deadline = k.deadline
	}
	b := d.cur
	b.recs = append(b.recs, k)
	b.size += k.size
	b.deadline = min(b.deadline, k.deadline)
	if len(b.recs) >= opts.CollectionMaxCount {
		d.cut()
	}
	return b
}

func (d *dispatcher) cut() {
	if d.cur == nil {
		return
	}
	d.ready = append(d.ready, d.cur)
	d.cur = nil
}

// launch starts calls for ready batches while connections are free.
func (d *dispatcher) launch() {
	p := d.p
	n := 0
	for n < len(d.ready) && d.inflight < p.opts.MaxConnections && d.window.allows(d.ready[n].size, d.inflight) {
		b := d.ready[n]
		b.ahead = d.window.started(b.size)
		d.ready[n] = nil
		n++
		d.inflight++
		p.inflight.Add(1)
		p.wg.Add(1)
		go p.send(b)
	}
	if n > 0 {
		m := copy(d.ready, d.ready[n:])
		clear(d.ready[m:])
		d.ready = d.ready[:m]
	}
}

// failAll fails everything the dispatcher holds (Close's context ended).
func (d *dispatcher) failAll(err error) {
	p := d.p
	fail := func(k *krec) { p.fail(k, err) }
	for _, s := range d.active {
		q := &s.q
		for k := q.retry.popFront(); k != nil; k = q.retry.popFront() {
			fail(k)
		}
		for k := q.fresh.popFront(); k != nil; k = q.fresh.popFront() {
			fail(k)
		}
		for _, g := range q.early {
			for k := g.list.popFront(); k != nil; k = g.list.popFront() {
				fail(k)
			}
		}
		q.early = nil
		q.active = false
	}
	clear(d.active)
	d.active = d.active[:0]
	d.cut()
	for _, b := range d.ready {
		for _, k := range b.recs {
			fail(k)
		}
		clear(b.recs)
		b.recs = b.recs[:0]
		for _, s := range b.shards {
			s.q.busy--
		}
		b.shards = b.shards[:0]
		d.free = append(d.free, b)
	}
	clear(d.ready)
	d.ready = d.ready[:0]
}
