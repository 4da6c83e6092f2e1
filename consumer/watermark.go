package consumer

// watermark tracks, in shard order, which accepted records of a shard are done (handled
// or given up) and the low watermark: the last record such that it and every record
// before it are done, the only position that may be checkpointed. It holds the accepted
// batches until the watermark passes their last record, which bounds the memory of a
// per-record processor: at most maxBatches batches are held. Not safe for concurrent use.
type watermark struct {
	maxBatches int
	batches    []*heldBatch // in shard order; batches[0] holds the first record not done
	low        int          // index in batches[0] of the first record not done

	// seq and sub locate the low watermark; valid is false until a record is done.
	seq   string
	sub   int64
	valid bool
	moves uint64 // how often the watermark moved: a checkpoint is due when it changed

	doneAbove int // records done after the first record not done
	held      int // records held (not yet below the watermark)
}

// heldBatch is one accepted batch and which of its records are done.
type heldBatch struct {
	records []Record
	done    []bool
}

// recordRef names one held record.
type recordRef struct {
	b *heldBatch
	i int
}

func (r recordRef) record() *Record { return &r.b.records[r.i] }

// full reports whether no further batch may be accepted.
func (w *watermark) full() bool { return len(w.batches) >= w.maxBatches }

// add holds records (not empty) after those already held and returns their batch.
func (w *watermark) add(records []Record) *heldBatch {
	b := &heldBatch{records: records, done: make([]bool, len(records))}
	w.batches = append(w.batches, b)
	w.held += len(records)
	return b
}

// markDone records that r is done and moves the watermark as far as it can. It reports
// whether a batch was released (so one more may be accepted).
func (w *watermark) markDone(r recordRef) (released bool) {
	if r.b.done[r.i] {
		return false
	}
	r.b.done[r.i] = true
	if r.b != w.batches[0] || r.i != w.low {
		w.doneAbove++
		return false
	}
	w.doneAbove++ // counted, then uncounted by the advance below
	for len(w.batches) > 0 {
		b := w.batches[0]
		for w.low < len(b.records) && b.done[w.low] {
			w.low++
			w.doneAbove--
			w.held--
		}
		if w.low == 0 {
			break
		}
		last := &b.records[w.low-1]
		w.seq, w.sub, w.valid = last.SequenceNumber, last.SubSequenceNumber, true
		if w.low < len(b.records) {
			break
		}
		// Every record of the batch is done: release it.
		w.batches[0] = nil
		w.batches = w.batches[1:]
		w.low = 0
		released = true
	}
	w.moves++
	return released
}

// position returns the low watermark; ok is false while no record is done.
func (w *watermark) position() (seq string, sub int64, ok bool) {
	return w.seq, w.sub, w.valid
}

// empty reports whether every accepted record is done.
func (w *watermark) empty() bool { return len(w.batches) == 0 }
