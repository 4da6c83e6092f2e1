package consumer

// dispatch decides which accepted records of a shard may be handled now under an
// Ordering: a record is ready when no earlier record of its partition key
// (OrderByPartitionKey) or of the shard (OrderByShard) is ready, running or waiting, and
// every record is ready at once with OrderNone. It has no goroutines and no clock, so
// that its rules can be tested against a model; the processor runs it under a mutex.
type dispatch struct {
	ordering Ordering
	wm       watermark
	ready    refQueue             // records that may start, in shard order per key
	keys     map[string]*keyQueue // keys with a record ready or running
	free     []*keyQueue          // recycled key queues
	running  int                  // records taken and not finished
	blocked  int                  // keys with records waiting behind a running or ready one
}

// keyQueue holds the records of one key waiting behind the key's ready or running record.
type keyQueue struct {
	waiting refQueue
}

func newDispatch(ordering Ordering, maxBatches int) *dispatch {
	return &dispatch{ordering: ordering, wm: watermark{maxBatches: max(1, maxBatches)}, keys: make(map[string]*keyQueue)}
}

// key returns the key that orders r.
func (d *dispatch) key(r *Record) string {
	if d.ordering == OrderByShard {
		return ""
	}
	return r.PartitionKey
}

// add accepts a batch (not empty; the caller checks wm.full first). It returns how many
// records became ready.
func (d *dispatch) add(records []Record) int {
	b := d.wm.add(records)
	if d.ordering == OrderNone {
		for i := range records {
			d.ready.push(recordRef{b, i})
		}
		return len(records)
	}
	n := 0
	for i := range records {
		k := d.key(&records[i])
		if q, ok := d.keys[k]; ok {
			if q.waiting.n == 0 {
				d.blocked++
			}
			q.waiting.push(recordRef{b, i})
			continue
		}
		var q *keyQueue
		if l := len(d.free); l > 0 {
			q, d.free = d.free[l-1], d.free[:l-1]
		} else {
			q = new(keyQueue)
		}
		d.keys[k] = q
		d.ready.push(recordRef{b, i})
		n++
	}
	return n
}

// take returns the next ready record and counts it running.
func (d *dispatch) take() (recordRef, bool) {
	r, ok := d.ready.pop()
	if ok {
		d.running++
	}
	return r, ok
}

// finish records that a taken record is done (handled or given up): the next record of
// its key becomes ready. It reports whether the watermark released a batch.
func (d *dispatch) finish(r recordRef) (released bool) {
	d.running--
	if d.ordering != OrderNone {
		k := d.key(r.record())
		q := d.keys[k]
		if next, ok := q.waiting.pop(); ok {
			if q.waiting.n == 0 {
				d.blocked--
			}
			d.ready.push(next)
		} else {
			delete(d.keys, k)
			q.waiting.reset()
			d.free = append(d.free, q)
		}
	}
	return d.wm.markDone(r)
}

// abandon records that a taken record will not be finished by this dispatch (the
// processor stops): its key stays blocked and the watermark stays below it.
func (d *dispatch) abandon(recordRef) { d.running-- }

// idle reports whether every accepted record is done.
func (d *dispatch) idle() bool { return d.wm.empty() }

// refQueue is a FIFO ring of record references.
type refQueue struct {
	buf  []recordRef
	head int
	n    int
}

func (q *refQueue) push(r recordRef) {
	if q.n == len(q.buf) {
		nb := make([]recordRef, max(8, 2*len(q.buf)))
		k := copy(nb, q.buf[q.head:])
		copy(nb[k:], q.buf[:q.head])
		q.buf, q.head = nb, 0
	}
	i := q.head + q.n
	if i >= len(q.buf) {
		i -= len(q.buf)
	}
	q.buf[i] = r
	q.n++
}

func (q *refQueue) pop() (recordRef, bool) {
	if q.n == 0 {
		return recordRef{}, false
	}
	r := q.buf[q.head]
	q.buf[q.head] = recordRef{}
	q.head++
	if q.head == len(q.buf) {
		q.head = 0
	}
	q.n--
	return r, true
}

// reset empties the queue, keeping a small buffer for reuse.
func (q *refQueue) reset() {
	if len(q.buf) > 1024 {
		q.buf = nil
	}
	q.head, q.n = 0, 0
}
