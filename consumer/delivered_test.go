package consumer

import (
	"fmt"
	"testing"

	"github.com/kinesis-go/kinesis/checkpoint"
)

func seqOf(n int) string { return fmt.Sprintf("4900000000000000000000%020d", n) }

func pos(n int, sub int64) checkpoint.ExtendedSequenceNumber {
	return checkpoint.ExtendedSequenceNumber{SequenceNumber: seqOf(n), SubSequenceNumber: sub}
}

// recs returns user records: for each Kinesis record n, the given subsequence numbers.
func recs(kinesis map[int][]int64, order ...int) []Record {
	var out []Record
	for _, n := range order {
		for _, sub := range kinesis[n] {
			out = append(out, Record{SequenceNumber: seqOf(n), SubSequenceNumber: sub})
		}
	}
	return out
}

func TestDeliveredLogKnowsExactlyWhatWasDelivered(t *testing.T) {
	d := deliveredLog{max: 100}
	// Kinesis records 10 (plain), 12 (aggregate 0..3), 15 (aggregate with sub-record 1
	// filtered out), then a second batch: 20 (plain).
	d.add(recs(map[int][]int64{10: {0}, 12: {0, 1, 2, 3}, 15: {0, 2}}, 10, 12, 15))
	d.add(recs(map[int][]int64{20: {0}}, 20))
	for _, tc := range []struct {
		pos  checkpoint.ExtendedSequenceNumber
		want deliveredStatus
	}{
		{pos(10, 0), wasDelivered},
		{pos(10, 1), notDelivered}, // a plain record has no sub-record 1
		{pos(11, 0), notDelivered}, // between delivered records: another shard's
		{pos(12, 0), wasDelivered},
		{pos(12, 3), wasDelivered},
		{pos(12, 4), notDelivered},
		{pos(15, 1), notDelivered}, // filtered out, never delivered
		{pos(15, 2), wasDelivered},
		{pos(20, 0), wasDelivered},
		{pos(21, 0), notDelivered},
		{pos(9, 0), notDelivered},
	} {
		if got := d.status(tc.pos); got != tc.want {
			t.Errorf("status(%s) = %d, want %d", tc.pos, got, tc.want)
		}
	}

	d.trim(pos(12, 1)) // checkpointed inside the aggregate
	if got := d.status(pos(12, 1)); got != notDelivered {
		t.Errorf("after the checkpoint at 12/1, status(12/1) = %d, want notDelivered (checkpointed)", got)
	}
	if got := d.status(pos(12, 2)); got != wasDelivered {
		t.Errorf("after the checkpoint at 12/1, status(12/2) = %d, want wasDelivered", got)
	}
	d.trim(pos(20, 0))
	if len(d.runs) != 0 || d.runs != nil {
		t.Errorf("everything checkpointed, yet %d runs remembered", len(d.runs))
	}
}

func TestDeliveredLogForgetsTheOldestBeyondItsBound(t *testing.T) {
	d := deliveredLog{max: 3}
	d.add(recs(map[int][]int64{1: {0}, 2: {0}, 3: {0, 1}, 4: {0}, 5: {0}}, 1, 2, 3, 4, 5))
	if len(d.runs) != 3 {
		t.Fatalf("%d runs remembered, want the bound 3", len(d.runs))
	}
	for _, tc := range []struct {
		pos  checkpoint.ExtendedSequenceNumber
		want deliveredStatus
	}{
		{pos(1, 0), maybeDelivered},
		{pos(2, 0), maybeDelivered},
		{pos(2, 5), notDelivered}, // after the last forgotten position 2/0, not remembered
		{pos(3, 1), wasDelivered},
		{pos(5, 0), wasDelivered},
	} {
		if got := d.status(tc.pos); got != tc.want {
			t.Errorf("status(%s) = %d, want %d", tc.pos, got, tc.want)
		}
	}
	d.trim(pos(3, 0))
	if got := d.status(pos(1, 0)); got != notDelivered {
		t.Errorf("after a checkpoint past the forgotten records, status(1/0) = %d, want notDelivered", got)
	}
}

// FuzzDeliveredLog checks the log against a model (the set of every position delivered
// and not yet checkpointed): it never claims a position was delivered when it was not,
// never refuses one that was (it may only answer "ask Kinesis" for forgotten ones), and
// stays within its bound.
func FuzzDeliveredLog(f *testing.F) {
	f.Add([]byte{3, 1, 2, 0, 5, 3, 200, 7, 1, 9, 4})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 2, 2, 2})
	f.Fuzz(func(t *testing.T, ops []byte) {
		const bound = 4
		d := deliveredLog{max: bound}
		model := map[checkpoint.ExtendedSequenceNumber]bool{}
		var order []checkpoint.ExtendedSequenceNumber // every position delivered, in order
		var checkpointed checkpoint.ExtendedSequenceNumber
		next := 1
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i]%3, int(ops[i+1])
			switch op {
			case 0: // deliver a batch of 1..4 Kinesis records, some aggregated, some gaps
				var batch []Record
				for k := 0; k <= arg%4; k++ {
					next += 1 + (arg>>2)%3
					subs := 1 + (arg>>4)%4
					for sub := range subs {
						if subs > 2 && sub == 1 && arg&1 == 1 {
							continue // a sub-record filtered out by hash key
						}
						batch = append(batch, Record{SequenceNumber: seqOf(next), SubSequenceNumber: int64(sub)})
					}
				}
				d.add(batch)
				for _, r := range batch {
					p := checkpoint.ExtendedSequenceNumber{SequenceNumber: r.SequenceNumber, SubSequenceNumber: r.SubSequenceNumber}
					model[p] = true
					order = append(order, p)
				}
			case 1: // checkpoint at a delivered position
				if len(order) == 0 {
					continue
				}
				p := order[arg%len(order)]
				if p.Compare(checkpointed) <= 0 {
					continue
				}
				checkpointed = p
				d.trim(p)
				for q := range model {
					if q.Compare(p) <= 0 {
						delete(model, q)
					}
				}
			case 2: // ask about a position near the last ones
				p := pos(max(1, next-arg%8), int64(arg%5))
				got := d.status(p)
				switch {
				case got == wasDelivered && !model[p]:
					t.Fatalf("status(%s) = wasDelivered; it was not delivered since the checkpoint %s", p, checkpointed)
				case got == notDelivered && model[p]:
					t.Fatalf("status(%s) = notDelivered; it was delivered", p)
				}
			}
			if len(d.runs) > bound {
				t.Fatalf("%d runs remembered, bound %d", len(d.runs), bound)
			}
		}
	})
}
