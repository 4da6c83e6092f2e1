package aggregation

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

func TestSizeIsExactEncodedLength(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for iter := range 300 {
		maxSize := 64 + rng.IntN(70000)
		a := NewAggregator(maxSize, 1+rng.IntN(600))
		var added []UserRecord
		for _, r := range randomRecords(rng, 1+rng.IntN(600)) {
			want := a.SizeWith(r)
			before := a.Size()
			if !a.Add(r) {
				if a.Size() != before || a.Len() != len(added) {
					t.Fatalf("iter %d: refused Add changed the aggregator", iter)
				}
				continue
			}
			if a.Size() != want || a.Size() > maxSize {
				t.Fatalf("iter %d: Size after Add = %d, SizeWith said %d, max %d", iter, a.Size(), want, maxSize)
			}
			added = append(added, r)
		}
		size := a.Size()
		kr, recs := a.Drain()
		sameRecords(t, recs, added)
		if a.Len() != 0 || a.Size() != 0 {
			t.Fatalf("iter %d: Drain did not reset: Len %d Size %d", iter, a.Len(), a.Size())
		}
		switch len(added) {
		case 0:
			if kr.Data != nil || recs != nil {
				t.Fatalf("iter %d: empty Drain returned data", iter)
			}
		case 1:
			if kr.PartitionKey != added[0].PartitionKey || kr.ExplicitHashKey != added[0].ExplicitHashKey || !bytes.Equal(kr.Data, added[0].Data) {
				t.Fatalf("iter %d: single record not drained plain", iter)
			}
		default:
			if len(kr.Data) != size {
				t.Fatalf("iter %d: len(Data) = %d, Size() was %d", iter, len(kr.Data), size)
			}
			got, err := Deaggregate(kr.Data)
			if err != nil {
				t.Fatalf("iter %d: %v", iter, err)
			}
			sameRecords(t, got, added)
		}
	}
}

func TestAddRespectsMaxSizeToTheByte(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := range 500 {
		prior := randomRecords(rng, rng.IntN(20))
		r := randomRecords(rng, 1)[0]
		probe := NewAggregator(1<<30, 0)
		for _, p := range prior {
			probe.Add(p)
		}
		need := probe.SizeWith(r)

		for _, tt := range []struct {
			maxSize int
			fits    bool
		}{{need, true}, {need - 1, false}} {
			a := NewAggregator(tt.maxSize, 0)
			for _, p := range prior {
				if !a.Add(p) {
					t.Fatalf("iter %d: replay refused a record that fit before", iter)
				}
			}
			size, n := a.Size(), a.Len()
			if got := a.Add(r); got != tt.fits {
				t.Fatalf("iter %d: maxSize %d (need %d): Add = %v, want %v", iter, tt.maxSize, need, got, tt.fits)
			}
			if tt.fits && a.Size() != tt.maxSize {
				t.Fatalf("iter %d: Size = %d, want exactly maxSize %d", iter, a.Size(), tt.maxSize)
			}
			if !tt.fits && (a.Size() != size || a.Len() != n) {
				t.Fatalf("iter %d: refused Add changed Size or Len", iter)
			}
		}
	}
}

func TestAddFillsToExactlyMaxSize(t *testing.T) {
	// Growing one record's data byte by byte: the length that reaches maxSize
	// exactly is accepted, one byte more is refused.
	const maxSize = 1000
	a := NewAggregator(maxSize, 0)
	a.Add(UserRecord{PartitionKey: "first", Data: []byte("x")})
	n := 0
	for a.SizeWith(UserRecord{PartitionKey: "k", Data: make([]byte, n)}) < maxSize {
		n++
	}
	r := UserRecord{PartitionKey: "k", Data: make([]byte, n)}
	if got := a.SizeWith(r); got != maxSize {
		t.Fatalf("SizeWith = %d, want %d", got, maxSize)
	}
	if a.Add(UserRecord{PartitionKey: "k", Data: make([]byte, n+1)}) {
		t.Fatal("a record one byte over maxSize was accepted")
	}
	if !a.Add(r) || a.Size() != maxSize {
		t.Fatalf("a record reaching exactly maxSize was refused (Size %d)", a.Size())
	}
	kr, _ := a.Drain()
	if len(kr.Data) != maxSize {
		t.Fatalf("drained %d bytes, want %d", len(kr.Data), maxSize)
	}
}

func TestAddRefusesRecordTooBigForEmptyAggregator(t *testing.T) {
	a := NewAggregator(100, 0)
	r := UserRecord{PartitionKey: "k", Data: make([]byte, 100)}
	if a.Add(r) || a.Len() != 0 || a.Size() != 0 {
		t.Fatal("a record bigger than maxSize was accepted by an empty aggregator")
	}
}

func TestAddRespectsMaxCount(t *testing.T) {
	a := NewAggregator(0, 3)
	for i := range 3 {
		if !a.Add(UserRecord{PartitionKey: "k"}) {
			t.Fatalf("record %d refused", i)
		}
	}
	if a.Add(UserRecord{PartitionKey: "k"}) || a.Len() != 3 {
		t.Fatal("a 4th record was accepted with maxCount 3")
	}
}

func TestNewAggregatorDefaults(t *testing.T) {
	a := NewAggregator(0, -1)
	if a.enc.maxSize != DefaultMaxSize || a.enc.maxCount != DefaultMaxCount {
		t.Fatalf("defaults: maxSize %d maxCount %d", a.enc.maxSize, a.enc.maxCount)
	}
	if DefaultMaxSize != 51200 || DefaultMaxCount != 4294967295 {
		t.Fatal("defaults must be KPL's")
	}
}

func TestDrainEmptyReturnsZeroValues(t *testing.T) {
	kr, recs := NewAggregator(0, 0).Drain()
	if kr.PartitionKey != "" || kr.ExplicitHashKey != "" || kr.Data != nil || recs != nil {
		t.Fatalf("got %+v, %v", kr, recs)
	}
}

func TestDrainSingleRecordIsPlain(t *testing.T) {
	r := UserRecord{PartitionKey: "pk", ExplicitHashKey: "12", Data: []byte("hello")}
	a := NewAggregator(0, 0)
	a.Add(r)
	if a.Size() <= len(r.Data) {
		t.Fatalf("Size %d must be the aggregated size, larger than the plain record", a.Size())
	}
	kr, recs := a.Drain()
	if kr.PartitionKey != "pk" || kr.ExplicitHashKey != "12" || &kr.Data[0] != &r.Data[0] || len(kr.Data) != len(r.Data) {
		t.Fatalf("got %+v, want the record itself", kr)
	}
	if IsAggregated(kr.Data) {
		t.Fatal("a single record must not be aggregated")
	}
	sameRecords(t, recs, []UserRecord{r})
}

func TestDrainRoutesAggregateByFirstRecord(t *testing.T) {
	a := NewAggregator(0, 0)
	a.Add(UserRecord{PartitionKey: "first", Data: []byte("1")})
	a.Add(UserRecord{PartitionKey: "second", ExplicitHashKey: "5", Data: []byte("2")})
	kr, _ := a.Drain()
	if kr.PartitionKey != "a" || kr.ExplicitHashKey != HashKey("first").String() {
		t.Fatalf("by partition key: got PK %q EHK %q", kr.PartitionKey, kr.ExplicitHashKey)
	}

	a.Add(UserRecord{PartitionKey: "first", ExplicitHashKey: "77", Data: []byte("1")})
	a.Add(UserRecord{PartitionKey: "second", Data: []byte("2")})
	kr, _ = a.Drain()
	if kr.PartitionKey != "a" || kr.ExplicitHashKey != "77" {
		t.Fatalf("by explicit hash key: got PK %q EHK %q", kr.PartitionKey, kr.ExplicitHashKey)
	}
}

func TestEncodingDedupesKeysAndWritesRequiredFields(t *testing.T) {
	a := NewAggregator(0, 0)
	a.Add(UserRecord{PartitionKey: "k", Data: nil})
	a.Add(UserRecord{PartitionKey: "k", ExplicitHashKey: "9", Data: []byte{}})
	a.Add(UserRecord{PartitionKey: "k", ExplicitHashKey: "9", Data: []byte("x")})
	kr, _ := a.Drain()
	want := wrap([]byte{
		0x0a, 1, 'k', // partition_key_table: "k" once
		0x12, 1, '9', // explicit_hash_key_table: "9" once
		0x1a, 4, 0x08, 0, 0x1a, 0, // index 0 and empty data still written
		0x1a, 6, 0x08, 0, 0x10, 0, 0x1a, 0,
		0x1a, 7, 0x08, 0, 0x10, 0, 0x1a, 1, 'x',
	})
	if !bytes.Equal(kr.Data, want) {
		t.Fatalf("encoding\n got %x\nwant %x", kr.Data, want)
	}
}

func TestAggregatorIsReusableAfterDrain(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	a := NewAggregator(0, 0)
	for range 50 {
		recs := randomRecords(rng, 2+rng.IntN(30))
		var added []UserRecord
		for _, r := range recs {
			if a.Add(r) {
				added = append(added, r)
			}
		}
		if len(added) < 2 {
			a.Drain()
			continue
		}
		kr, _ := a.Drain()
		got, err := Deaggregate(kr.Data)
		if err != nil {
			t.Fatal(err)
		}
		sameRecords(t, got, added)
	}
}

func TestDrainDoesNotRetainRecords(t *testing.T) {
	for _, n := range []int{1, 2} {
		a := NewAggregator(0, 0)
		for i := range n {
			a.Add(UserRecord{PartitionKey: fmt.Sprint(i), ExplicitHashKey: "1", Data: []byte("x")})
		}
		a.Drain()
		for _, r := range a.records[:cap(a.records)] {
			if r.Data != nil || r.PartitionKey != "" {
				t.Fatalf("%d drained: records are still referenced by the aggregator", n)
			}
		}
		pks, ehks := a.enc.pks.keys, a.enc.ehks.keys
		for _, k := range append(pks[:cap(pks)], ehks[:cap(ehks)]...) {
			if k != "" {
				t.Fatalf("%d drained: keys are still referenced by the aggregator", n)
			}
		}
		for _, s := range append(a.enc.pks.slots, a.enc.ehks.slots...) {
			if s != (keySlot{}) {
				t.Fatalf("%d drained: key indexes not cleared", n)
			}
		}
	}
}
