package aggregation

import "testing"

// The allocation budgets of the hot paths: a few per aggregate, so well under
// 0.01 per user record for aggregates of hundreds of records.

func TestAggregateAllocatesPerAggregateNotPerRecord(t *testing.T) {
	recs := benchRecords(4096)
	a := NewAggregator(DefaultMaxSize, 0)
	aggregates := 0
	allocs := testing.AllocsPerRun(5, func() {
		for _, r := range recs {
			if !a.Add(r) {
				a.Drain()
				aggregates++
				a.Add(r)
			}
		}
	})
	if perRecord := allocs / float64(len(recs)); perRecord > 0.01 {
		t.Fatalf("%.4f allocations per record, want <= 0.01", perRecord)
	}
	// Data, the returned records and the outer explicit hash key.
	if perAggregate := allocs / (float64(aggregates) / 6); perAggregate > 3.5 {
		t.Fatalf("%.2f allocations per aggregate, want 3", perAggregate)
	}
}

func TestDeaggregateAllocatesPerAggregateNotPerRecord(t *testing.T) {
	data := benchAggregate(t)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := Deaggregate(data); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 3 {
		t.Fatalf("%v allocations per aggregate, want 3 (records, keys, key table)", allocs)
	}
}
