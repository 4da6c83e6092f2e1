package producer

import "sync"

// deliverer runs the user's callbacks on one goroutine, in the order results come,
// from a queue the pipeline appends to without ever blocking. The queue is bounded
// because the buffered records are: a record's room in the buffer is released only
// after its callback returned, so a slow callback slows Put down (back-pressure) and
// never blocks the pipeline.
type deliverer struct {
	p    *Producer
	wake chan struct{}

	mu    sync.Mutex
	q     []*krec
	spare []*krec

	// Results delivered but not yet settled (run goroutine only): releasing room
	// and counting Flush progress once per batch keeps the atomics that Put also
	// touches off the per-record path.
	records, charge int64
	ep              *epoch
	epN             int64
}

// settleEvery bounds how many delivered records wait to be settled.
const settleEvery = 256

// settle releases the room of the records delivered since the last call, then counts
// them done for Flush (in that order: a Flush that returns sees the room released).
func (d *deliverer) settle() {
	if d.records > 0 || d.charge > 0 {
		d.p.budget.release(d.records, d.charge)
		d.records, d.charge = 0, 0
	}
	if d.ep != nil && d.epN > 0 {
		d.p.epochs.exit(d.ep, d.epN)
	}
	d.epN = 0
}

func newDeliverer(p *Producer) *deliverer {
	return &deliverer{p: p, wake: make(chan struct{}, 1)}
}

func (d *deliverer) push(k *krec) {
	d.mu.Lock()
	d.q = append(d.q, k)
	first := len(d.q) == 1
	d.mu.Unlock()
	if first {
		d.kick()
	}
}

func (d *deliverer) kick() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deliverer) run() {
	defer d.p.wg.Done()
	for {
		d.mu.Lock()
		if len(d.q) == 0 {
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-d.p.stop:
				// Close stops the producer only after every record's result was
				// delivered, so nothing can be queued any more.
				return
			}
		}
		q := d.q
		d.q, d.spare = d.spare, nil
		d.mu.Unlock()
		for i, k := range q {
			d.deliver(k)
			q[i] = nil
			if d.records >= settleEvery {
				d.settle()
			}
		}
		d.settle()
		d.mu.Lock()
		d.spare = q[:0]
		d.mu.Unlock()
	}
}

// deliver calls the callbacks of k's user records, then releases their room in the
// buffer and counts them done for Flush.
func (d *deliverer) deliver(k *krec) {
	p := d.p
	res := Result{Attempts: k.attempts}
	err := k.err
	if err == nil {
		res.ShardID, res.SequenceNumber, res.Aggregated = k.shardID, k.seqNum, k.aggregated
	}
	for i := range k.recs {
		u := &k.recs[i]
		if u.done == nil {
			continue
		}
		r := res
		if err == nil && k.aggregated {
			r.SubSequenceNumber = int64(u.sub)
		}
		if u.prior != nil {
			prior := *u.prior
			r.Attempts = append(prior[:len(prior):len(prior)], k.attempts...)
		}
		u.done(r, err)
	}
	for i := range k.recs {
		u := &k.recs[i]
		if u.ep != d.ep {
			d.settle()
			d.ep = u.ep
		}
		d.records++
		d.charge += u.charge()
		d.epN++
	}
	p.recycleKrec(k)
}
