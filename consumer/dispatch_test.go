package consumer

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// modelStream is a shard of n user records with keys drawn from keys; every third
// Kinesis record is an aggregate of several user records (one sequence number, several
// subsequence numbers).
func modelStream(rng *rand.Rand, n, keys int) []Record {
	out := make([]Record, 0, n)
	seq := 1000
	for len(out) < n {
		seq++
		subs := 1
		if rng.IntN(3) == 0 {
			subs = 1 + rng.IntN(5)
		}
		for j := 0; j < subs && len(out) < n; j++ {
			out = append(out, Record{
				PartitionKey:      fmt.Sprintf("k%d", rng.IntN(keys)),
				SequenceNumber:    fmt.Sprint(seq),
				SubSequenceNumber: int64(j),
				Data:              []byte(fmt.Sprint(len(out))), // the record's index in the stream
			})
		}
	}
	return out
}

func streamIndex(r *Record) int {
	var i int
	fmt.Sscan(string(r.Data), &i)
	return i
}

// dispatchModel drives a dispatch with random operations and checks it against the
// obvious model: per-key (or per-shard) order, the watermark, the memory bound, the
// counters and liveness. Lease losses restart from the last checkpoint with a new
// dispatch, as a new owner would.
type dispatchModel struct {
	t        testing.TB
	ordering Ordering
	stream   []Record
	handled  []int // times each stream record was finished

	d          *dispatch
	next       int // stream index of the next record to add
	checkpoint int // stream index of the first record after the checkpoint
	start      int // stream index of the first record of this dispatch
	finished   map[int]bool
	running    []recordRef
}

func newDispatchModel(t testing.TB, ordering Ordering, stream []Record) *dispatchModel {
	m := &dispatchModel{t: t, ordering: ordering, stream: stream, handled: make([]int, len(stream))}
	m.restart()
	return m
}

// restart models a new lease owner: everything after the checkpoint is read again.
func (m *dispatchModel) restart() {
	m.d = newDispatch(m.ordering, 3)
	m.next = m.checkpoint
	m.start = m.checkpoint
	m.finished = map[int]bool{}
	m.running = nil
}

func (m *dispatchModel) addBatch(size int) {
	if m.d.wm.full() || m.next >= len(m.stream) {
		return
	}
	end := min(m.next+size, len(m.stream))
	m.d.add(append([]Record(nil), m.stream[m.next:end]...))
	m.next = end
	if len(m.d.wm.batches) > m.d.wm.maxBatches {
		m.t.Fatalf("%d batches held, bound %d", len(m.d.wm.batches), m.d.wm.maxBatches)
	}
}

func (m *dispatchModel) take() {
	r, ok := m.d.take()
	if !ok {
		return
	}
	i := streamIndex(r.record())
	// Everything before i that must precede it is finished.
	first := m.checkpoint
	if len(m.d.wm.batches) > 0 {
		first = streamIndex(&m.d.wm.batches[0].records[0])
	}
	for j := first; j < i; j++ {
		if m.finished[j] {
			continue
		}
		switch {
		case m.ordering == OrderByShard,
			m.ordering == OrderByPartitionKey && m.stream[j].PartitionKey == m.stream[i].PartitionKey:
			m.t.Fatalf("record %d (key %s) started before record %d (key %s) finished (ordering %v)", i, m.stream[i].PartitionKey, j, m.stream[j].PartitionKey, m.ordering)
		}
	}
	for _, o := range m.running {
		if j := streamIndex(o.record()); m.ordering == OrderByPartitionKey && m.stream[j].PartitionKey == m.stream[i].PartitionKey || m.ordering == OrderByShard {
			m.t.Fatalf("record %d started while record %d of the same key runs (ordering %v)", i, j, m.ordering)
		}
	}
	m.running = append(m.running, r)
}

func (m *dispatchModel) finish(k int) {
	if len(m.running) == 0 {
		return
	}
	k %= len(m.running)
	r := m.running[k]
	m.running = append(m.running[:k], m.running[k+1:]...)
	i := streamIndex(r.record())
	m.d.finish(r)
	m.finished[i] = true
	m.handled[i]++
}

// check compares the watermark and counters with the model.
func (m *dispatchModel) check() {
	// The watermark is the record before the first unfinished one added.
	first := m.next
	for j := m.checkpoint; j < m.next; j++ {
		if !m.finished[j] {
			first = j
			break
		}
	}
	seq, sub, ok := m.d.wm.position()
	if first > m.start && !ok {
		m.t.Fatalf("no watermark, but records %d..%d are finished", m.start, first-1)
	}
	if ok {
		if first == 0 {
			m.t.Fatalf("watermark %s/%d set while record 0 is unfinished", seq, sub)
		}
		w := m.stream[first-1]
		if seq != w.SequenceNumber || sub != w.SubSequenceNumber {
			m.t.Fatalf("watermark %s/%d, want %s/%d: the record before the first unfinished one (%d)", seq, sub, w.SequenceNumber, w.SubSequenceNumber, first)
		}
	}
	if m.d.running != len(m.running) {
		m.t.Fatalf("running %d, model %d", m.d.running, len(m.running))
	}
	doneAbove := 0
	for j := first; j < m.next; j++ {
		if m.finished[j] {
			doneAbove++
		}
	}
	if m.d.wm.doneAbove != doneAbove {
		m.t.Fatalf("done above the watermark %d, model %d", m.d.wm.doneAbove, doneAbove)
	}
	if m.ordering != OrderNone {
		// A key is blocked when it has unfinished records that are neither ready nor
		// running: more than one unfinished record.
		unfinished := map[string]int{}
		for j := first; j < m.next; j++ {
			if !m.finished[j] {
				unfinished[m.d.key(&m.stream[j])]++
			}
		}
		blocked := 0
		for _, n := range unfinished {
			if n > 1 {
				blocked++
			}
		}
		if m.d.blocked != blocked {
			m.t.Fatalf("blocked keys %d, model %d", m.d.blocked, blocked)
		}
	}
	// Liveness: unfinished records and nothing running means something is ready.
	if first < m.next && len(m.running) == 0 && m.d.ready.n == 0 {
		m.t.Fatalf("records %d.. are unfinished, nothing runs and nothing is ready", first)
	}
}

// checkpointNow moves the model's checkpoint to the watermark.
func (m *dispatchModel) checkpointNow() {
	seq, sub, ok := m.d.wm.position()
	if !ok {
		return
	}
	for j := m.checkpoint - 1; j < m.next; j++ {
		if j < 0 {
			continue
		}
		if m.stream[j].SequenceNumber == seq && m.stream[j].SubSequenceNumber == sub {
			for k := m.checkpoint; k <= j; k++ {
				if !m.finished[k] {
					m.t.Fatalf("checkpoint %s/%d passes unfinished record %d", seq, sub, k)
				}
			}
			m.checkpoint = j + 1
			return
		}
	}
	m.t.Fatalf("watermark %s/%d is not a record added since the checkpoint", seq, sub)
}

// drain finishes everything, then checks that every record was handled.
func (m *dispatchModel) drain() {
	for steps := 0; ; steps++ {
		if steps > 100*len(m.stream)+100 {
			m.t.Fatal("drain does not finish")
		}
		m.addBatch(7)
		m.take()
		m.finish(0)
		m.check()
		if m.next == len(m.stream) && m.d.idle() && len(m.running) == 0 {
			break
		}
	}
	m.checkpointNow()
	for i, n := range m.handled {
		if n == 0 {
			m.t.Fatalf("record %d never handled", i)
		}
	}
	if m.checkpoint != len(m.stream) {
		m.t.Fatalf("final checkpoint before record %d, want the end (%d)", m.checkpoint, len(m.stream))
	}
}

// step applies one operation chosen by op.
func (m *dispatchModel) step(op, arg byte) {
	switch op % 8 {
	case 0, 1:
		m.addBatch(1 + int(arg)%12)
	case 2, 3:
		m.take()
	case 4, 5:
		m.finish(int(arg))
	case 6:
		m.checkpointNow()
	case 7:
		if arg%16 == 0 { // rare: the lease is lost; the new owner starts at the checkpoint
			m.restart()
		}
	}
	m.check()
}

func TestDispatchAgainstModel(t *testing.T) {
	for _, ordering := range []Ordering{OrderByPartitionKey, OrderByShard, OrderNone} {
		for seed := range uint64(200) {
			t.Run(fmt.Sprintf("%v/seed%d", ordering, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 19))
				m := newDispatchModel(t, ordering, modelStream(rng, 20+rng.IntN(200), 1+rng.IntN(8)))
				for range 2000 {
					m.step(byte(rng.IntN(256)), byte(rng.IntN(256)))
				}
				m.drain()
			})
		}
	}
}

func FuzzDispatch(f *testing.F) {
	f.Add(uint8(0), uint8(3), []byte{0, 5, 2, 2, 4, 1, 6, 0, 7, 0, 0, 3, 2, 9, 4, 4})
	f.Add(uint8(2), uint8(1), []byte{0, 11, 0, 11, 0, 11, 2, 0, 2, 0, 5, 1, 5, 0})
	f.Fuzz(func(t *testing.T, ordering, keys uint8, ops []byte) {
		rng := rand.New(rand.NewPCG(uint64(len(ops)), uint64(keys)))
		m := newDispatchModel(t, Ordering(ordering%3), modelStream(rng, 60, 1+int(keys)%10))
		for i := 0; i+1 < len(ops); i += 2 {
			m.step(ops[i], ops[i+1])
		}
		m.drain()
	})
}
