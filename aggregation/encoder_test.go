package aggregation

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// encodeAll adds recs to e with add until one does not fit, and returns the
// records added and their encoding appended to prefix.
func encodeAll(e *Encoder, recs []UserRecord, prefix []byte, add func(r UserRecord) bool) ([]UserRecord, []byte) {
	n := 0
	for n < len(recs) && add(recs[n]) {
		n++
	}
	added := recs[:n]
	return added, e.AppendTo(prefix, func(i int) []byte { return added[i].Data })
}

// Hashes given to AddHashed only speed up finding keys: constant or wrong
// hashes must still give a valid encoding of exactly Size bytes, and any hash
// that is equal for equal keys gives the very bytes Add gives.
func TestEncoderHashesDoNotChangeTheEncoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 200 {
		recs := randomRecords(rng, 1+rng.IntN(300))
		maxSize := 64 + rng.IntN(40000)
		ref := NewEncoder(maxSize, 0)
		wantRecs, want := encodeAll(ref, recs, nil, func(r UserRecord) bool {
			return ref.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data))
		})
		if len(want) != ref.Size() {
			t.Fatalf("round %d: encoded %d bytes, Size %d", round, len(want), ref.Size())
		}
		if len(wantRecs) > 0 {
			got, err := Deaggregate(want)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			sameRecords(t, got, wantRecs)
		}

		for name, hash := range map[string]func(string) uint64{
			"constant": func(string) uint64 { return 0 }, // every key collides
			"length":   func(k string) uint64 { return uint64(len(k)) },
			"md5":      func(k string) uint64 { return HashKey(k).Lo },
		} {
			e := NewEncoder(maxSize, 0)
			gotRecs, got := encodeAll(e, recs, nil, func(r UserRecord) bool {
				return e.AddHashed(r.PartitionKey, hash(r.PartitionKey), r.ExplicitHashKey, len(r.Data))
			})
			if len(gotRecs) != len(wantRecs) || !bytes.Equal(got, want) {
				t.Fatalf("round %d, %s hash: encoding differs from Add's", round, name)
			}
		}

		// A hash that differs for equal keys tables them again: bigger, still valid.
		e := NewEncoder(1<<30, 0)
		salt := uint64(0)
		gotRecs, got := encodeAll(e, wantRecs, nil, func(r UserRecord) bool {
			salt++
			return e.AddHashed(r.PartitionKey, salt, r.ExplicitHashKey, len(r.Data))
		})
		if len(got) != e.Size() || len(got) < len(want) {
			t.Fatalf("round %d: encoded %d bytes, Size %d, Add's encoding %d", round, len(got), e.Size(), len(want))
		}
		if len(gotRecs) > 0 {
			subs, err := Deaggregate(got)
			if err != nil {
				t.Fatalf("round %d, unequal hashes: %v", round, err)
			}
			sameRecords(t, subs, gotRecs)
		}
	}
}

func TestEncoderAppendsToAndReuses(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	e := NewEncoder(0, 0)
	if got := e.AppendTo([]byte("x"), nil); string(got) != "x" || e.Size() != 0 || e.Len() != 0 {
		t.Fatalf("empty encoder appended %q, Size %d", got, e.Size())
	}
	buf := make([]byte, 0, 1<<16)
	for round := range 50 {
		recs := randomRecords(rng, 2+rng.IntN(50))
		added, got := encodeAll(e, recs, append(buf[:0], "prefix"...), func(r UserRecord) bool {
			return e.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data))
		})
		if e.Len() != len(added) || len(got) != len("prefix")+e.Size() || string(got[:6]) != "prefix" {
			t.Fatalf("round %d: Len %d for %d records, %d bytes appended, Size %d", round, e.Len(), len(added), len(got)-6, e.Size())
		}
		// A fresh encoder and a reused one write the same bytes.
		fresh := NewEncoder(0, 0)
		_, want := encodeAll(fresh, added, nil, func(r UserRecord) bool {
			return fresh.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data))
		})
		if !bytes.Equal(got[6:], want) {
			t.Fatalf("round %d: a reused encoder wrote different bytes", round)
		}
		e.Reset()
		if e.Len() != 0 || e.Size() != 0 {
			t.Fatalf("round %d: Reset left Len %d Size %d", round, e.Len(), e.Size())
		}
	}
}

func TestEncoderAppendToPanicsOnWrongDataLength(t *testing.T) {
	e := NewEncoder(0, 0)
	e.Add("k", "", 3)
	defer func() {
		if recover() == nil {
			t.Fatal("AppendTo accepted data of another length than added")
		}
	}()
	e.AppendTo(nil, func(int) []byte { return []byte("toolong") })
}

func TestEncoderAllocatesNothingInSteadyState(t *testing.T) {
	recs := benchRecords(4096)
	e := NewEncoder(DefaultMaxSize, 0)
	buf := make([]byte, 0, DefaultMaxSize)
	start := 0
	flush := func(end int) {
		buf = e.AppendTo(buf[:0], func(i int) []byte { return recs[start+i].Data })
		e.Reset()
		start = end
	}
	run := func() {
		start = 0
		for i, r := range recs {
			if !e.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data)) {
				flush(i)
				e.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data))
			}
		}
		flush(len(recs))
	}
	run() // grow the tables
	if allocs := testing.AllocsPerRun(5, run); allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}
