package aggregation_test

import (
	"fmt"

	"github.com/kinesis-go/kinesis/aggregation"
)

func ExampleAggregator() {
	// Records for one shard; a small maxSize (KPL default: 51200) to show the
	// aggregate filling up.
	agg := aggregation.NewAggregator(100, 0)
	send := func(kr aggregation.KinesisRecord, n int) {
		fmt.Printf("send pk=%q %d bytes, %d user records, aggregated=%v\n",
			kr.PartitionKey, len(kr.Data), n, aggregation.IsAggregated(kr.Data))
	}
	records := []aggregation.UserRecord{
		{PartitionKey: "user-1", Data: []byte("login")},
		{PartitionKey: "user-2", Data: []byte("click")},
		{PartitionKey: "user-1", Data: []byte("logout")},
		{PartitionKey: "user-3", Data: make([]byte, 40)}, // does not fit: starts the next aggregate
		{PartitionKey: "user-2", Data: []byte("login")},
		{PartitionKey: "user-4", Data: make([]byte, 200)}, // fits no aggregate
		{PartitionKey: "user-5", Data: []byte("click")},
	}
	for _, r := range records {
		if agg.Add(r) {
			continue
		}
		if agg.Len() > 0 { // full: send what it holds and retry
			size := agg.Size()
			kr, recs := agg.Drain()
			fmt.Println("Size() was exact:", size == len(kr.Data))
			send(kr, len(recs))
			if agg.Add(r) {
				continue
			}
		}
		send(aggregation.KinesisRecord(r), 1) // too big to aggregate: alone
	}
	kr, recs := agg.Drain() // one record left: drained plain
	send(kr, len(recs))
	// Output:
	// Size() was exact: true
	// send pk="a" 70 bytes, 3 user records, aggregated=true
	// Size() was exact: true
	// send pk="a" 93 bytes, 2 user records, aggregated=true
	// send pk="user-4" 200 bytes, 1 user records, aggregated=false
	// send pk="user-5" 5 bytes, 1 user records, aggregated=false
}

func ExampleDeaggregate() {
	agg := aggregation.NewAggregator(0, 0)
	agg.Add(aggregation.UserRecord{PartitionKey: "sensor-7", Data: []byte("21.5C")})
	agg.Add(aggregation.UserRecord{PartitionKey: "sensor-9", ExplicitHashKey: "42", Data: []byte("19.0C")})
	kr, _ := agg.Drain()

	// Data as read from a shard: an aggregate, then a record some other
	// producer wrote plain.
	for _, data := range [][]byte{kr.Data, []byte("plain record")} {
		recs, err := aggregation.Deaggregate(data)
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		for subSeq, r := range recs {
			fmt.Printf("%d: pk=%q ehk=%q data=%q\n", subSeq, r.PartitionKey, r.ExplicitHashKey, r.Data)
		}
	}
	// Output:
	// 0: pk="sensor-7" ehk="" data="21.5C"
	// 1: pk="sensor-9" ehk="42" data="19.0C"
	// 0: pk="" ehk="" data="plain record"
}

func ExampleFilterHashRange() {
	// A child shard that owns the lower half of the key space after a split.
	shard, _ := aggregation.ParseHashRange("0", "170141183460469231731687303715884105727")
	recs := []aggregation.UserRecord{
		{PartitionKey: "x", ExplicitHashKey: "5", Data: []byte("mine")},
		{PartitionKey: "y", ExplicitHashKey: "170141183460469231731687303715884105728", Data: []byte("sibling's")},
		{PartitionKey: "z", ExplicitHashKey: "7", Data: []byte("mine too")},
	}
	for subSeq, r := range aggregation.FilterHashRange(recs, shard) {
		fmt.Printf("subsequence %d: %s\n", subSeq, r.Data)
	}
	// Output:
	// subsequence 0: mine
	// subsequence 2: mine too
}

func ExampleHashKey() {
	h := aggregation.HashKey("partitionKey-1")
	shard, _ := aggregation.ParseHashRange("0", "170141183460469231731687303715884105727")
	fmt.Println(h, shard.Contains(h))
	// Output:
	// 159499196025307651934328298402289840726 true
}

// A producer that keeps its own records (here with a sequence number each)
// sizes the aggregate with an Encoder and encodes straight from its records
// into a reused buffer.
func ExampleEncoder() {
	type myRecord struct {
		seq  int
		key  string
		data []byte
	}
	records := []myRecord{
		{1, "user-1", []byte("login")},
		{2, "user-2", []byte("click")},
		{3, "user-1", []byte("logout")},
		{4, "user-3", make([]byte, 60)},
	}
	enc := aggregation.NewEncoder(100, 0)
	buf := make([]byte, 0, 100)
	var batch []myRecord
	flush := func() {
		buf = enc.AppendTo(buf[:0], func(i int) []byte { return batch[i].data })
		subs, _ := aggregation.Deaggregate(buf)
		fmt.Printf("aggregate of %d bytes (Size %d): %d records from seq %d\n", len(buf), enc.Size(), len(subs), batch[0].seq)
		enc.Reset()
		batch = batch[:0]
	}
	for _, r := range records {
		if !enc.Add(r.key, "", len(r.data)) {
			flush()
			enc.Add(r.key, "", len(r.data))
		}
		batch = append(batch, r)
	}
	flush()
	// Output:
	// aggregate of 70 bytes (Size 70): 3 records from seq 1
	// aggregate of 94 bytes (Size 94): 1 records from seq 4
}
