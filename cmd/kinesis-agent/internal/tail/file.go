package tail

import (
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// file is one generation of a tracked file: the open descriptor, how far it was
// read and how far its records were confirmed. A file truncated (or truncated and
// written again) gets a new generation: the old one's records still complete, but
// only the new one's progress is saved.
type file struct {
	t    *Tailer
	fd   *os.File
	id   FileID
	path string // last name it was seen under (guarded by t.mu)

	// Owned by the tailer goroutine.
	fp         []byte    // the first bytes (up to FingerprintSize), as read
	readOff    int64     // next byte to read
	size       int64     // size at the last stat
	mtime      time.Time // mtime at the last stat
	carry      []byte    // bytes read but not yet sent: a partial line, or a multi-line record still open
	carryLines int       // bytes at the start of carry that are complete lines (multi-line records)
	discarding bool      // dropping the rest of a line longer than the record size limit
	header     int       // header lines still to skip
	active     bool      // matched by the pattern at the last refresh
	grewAt     time.Time // when data last arrived (or the file was opened)
	undecided  bool      // new and empty (or a prefix of a tracked file): see decide
	gone       bool      // superseded (truncated: a new generation took over) or closed

	statSize, statRead atomic.Int64 // size and readOff, for Stats

	// Confirmation, guarded by ackMu (acks arrive on the producer's callback goroutine).
	ackMu     sync.Mutex
	batches   []*batch // in file order; head completes first
	confirmed atomic.Int64
	pending   atomic.Int64 // records sent and not yet acknowledged
}

// batch is the records of one read of a file. It owns their buffer and completes
// when every record in it was acknowledged.
type batch struct {
	f    *file
	end  int64 // file offset just after the batch's last record
	buf  *[]byte
	refs atomic.Int32 // records not yet acknowledged, plus one while being filled
	done bool         // guarded by f.ackMu
}

// release drops one reference; the last completes the batch.
func (b *batch) release() {
	if b.refs.Add(-1) == 0 {
		b.f.complete(b)
	}
}

func (f *file) complete(b *batch) {
	f.ackMu.Lock()
	b.done = true
	n := 0
	for n < len(f.batches) && f.batches[n].done {
		done := f.batches[n]
		f.confirmed.Store(done.end)
		if done.buf != nil {
			putBuf(done.buf)
		}
		f.batches[n] = nil
		n++
	}
	f.batches = f.batches[n:]
	f.ackMu.Unlock()
}

// idle reports whether nothing of the file waits for confirmation.
func (f *file) idle() bool {
	f.ackMu.Lock()
	defer f.ackMu.Unlock()
	return len(f.batches) == 0
}

// Ack is handed to the Sink with each record: call Done once the record was
// written (nil) or failed (the record is then sent again later, after a backoff).
type Ack struct {
	b     *batch
	rec   []byte
	tries int
	next  time.Time
}

// Done reports the record's outcome. It must be called exactly once per Send, and
// must not block: it is meant to run on the producer's callback goroutine.
func (a *Ack) Done(err error) {
	if err == nil {
		a.b.f.pending.Add(-1)
		a.b.release()
		return
	}
	a.b.f.t.retryLater(a, err)
}

// sentOff is the offset after the last record sent: what was read minus what waits.
func (f *file) sentOff() int64 { return f.readOff - int64(len(f.carry)) }

// chunk buffers, reused once their batch completed.
const chunkSize = 64 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 4*chunkSize {
		return // a buffer grown for one huge line is not kept
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
