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
		}
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
	var charge int64
	for _, u := range k.recs {
		charge += u.charge
		if u.done == nil {
			continue
		}
		r := res
		if err == nil && k.aggregated {
			r.SubSequenceNumber = int64(u.sub)
		}
		if u.prior != nil {
			r.Attempts = append(u.prior[:len(u.prior):len(u.prior)], k.attempts...)
		}
		u.done(r, err)
	}
	p.budget.release(int64(len(k.recs)), charge)
	var ep *epoch
	var n int64
	for _, u := range k.recs {
		if u.ep != ep {
			if ep != nil {
				p.epochs.exit(ep, n)
			}
			ep, n = u.ep, 0
		}
		n++
		*u = urec{}
		p.urecs.Put(u)
	}
	if ep != nil {
		p.epochs.exit(ep, n)
	}
	p.recycleKrec(k)
}
