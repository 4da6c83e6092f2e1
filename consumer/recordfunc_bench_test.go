package consumer

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// nopCheckpointer accepts every checkpoint.
type nopCheckpointer struct{ writes atomic.Int64 }

func (c *nopCheckpointer) Checkpoint(context.Context) error { c.writes.Add(1); return nil }
func (c *nopCheckpointer) CheckpointAt(context.Context, string, int64) error {
	c.writes.Add(1)
	return nil
}

// benchRecords returns n records of one shard spread round-robin over keys partition
// keys; Data holds the key's index (2 bytes) and the record's (4 bytes).
func benchRecords(n, keys int) []Record {
	names := make([]string, keys)
	for k := range names {
		names[k] = fmt.Sprintf("key-%05d", k)
	}
	out := make([]Record, n)
	for i := range out {
		k := i % keys
		out[i] = Record{
			PartitionKey:   names[k],
			Data:           binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, uint16(k)), uint32(i)),
			SequenceNumber: "4960000000000" + strconv.Itoa(1000000+i),
			ShardID:        "shardId-000000000000",
		}
	}
	return out
}

// BenchmarkRecordFuncSleep is parallel-consumer's benchmark on one shard: 10,000
// records, each handled in a random 0-5 ms sleep, Concurrency 100, with 10,000, 10 and 1
// partition keys, fed in batches of 1,000 (as GetRecords would) to a processor from
// NewRecordFunc. One op is the whole run, from the first batch until ShardEnded
// returns (every record done). The ideal is computed from the handlers' measured
// durations: their sum divided by the usable concurrency (10,000 keys), the largest sum
// of one key (10 keys), the sum (1 key). Reported: s (seconds per run), ideal-s and
// x-ideal (s / ideal-s), and nominal-ideal-s, the ideal from the requested sleeps
// (what the sleeps would take without the ~1 ms a sleep overshoots here).
func BenchmarkRecordFuncSleep(b *testing.B) {
	const records, concurrency, batch = 10000, 100, 1000
	for _, keys := range []int{10000, 10, 1} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			recs := benchRecords(records, keys)
			sums := make([]atomic.Int64, keys) // measured handler time per key, ns
			rng := rand.New(rand.NewPCG(1, 2))
			delays := make([]time.Duration, records) // drawn in advance: no shared rng in handlers
			for i := range delays {
				delays[i] = time.Duration(rng.IntN(5001)) * time.Microsecond
			}
			var nominal, largestNominal time.Duration // the ideal from the requested sleeps
			keySums := make([]time.Duration, keys)
			for i, d := range delays {
				nominal += d
				keySums[i%keys] += d
				largestNominal = max(largestNominal, keySums[i%keys])
			}
			switch {
			case keys >= concurrency:
				nominal /= concurrency
			case keys > 1:
				nominal = largestNominal
			}
			fn := func(ctx context.Context, r Record) error {
				d := delays[binary.BigEndian.Uint32(r.Data[2:])]
				start := time.Now()
				time.Sleep(d)
				sums[binary.BigEndian.Uint16(r.Data)].Add(int64(time.Since(start)))
				return nil
			}
			var elapsed, ideal time.Duration
			for b.Loop() {
				for k := range sums {
					sums[k].Store(0)
				}
				p := newBenchProcessor(fn, concurrency, OrderByPartitionKey)
				cp := &nopCheckpointer{}
				start := time.Now()
				for i := 0; i < records; i += batch {
					if err := p.ProcessRecords(b.Context(), ProcessRecordsInput{Records: recs[i : i+batch], Checkpointer: cp}); err != nil {
						b.Fatal(err)
					}
				}
				if err := p.ShardEnded(b.Context(), ShardEndedInput{Checkpointer: cp}); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				var total, largest time.Duration
				for k := range sums {
					s := time.Duration(sums[k].Load())
					total += s
					largest = max(largest, s)
				}
				switch {
				case keys >= concurrency:
					ideal += total / concurrency
				case keys > 1:
					ideal += max(largest, total/time.Duration(keys))
				default:
					ideal += total
				}
			}
			n := float64(b.N)
			b.ReportMetric(elapsed.Seconds()/n, "s")
			b.ReportMetric(ideal.Seconds()/n, "ideal-s")
			b.ReportMetric(elapsed.Seconds()/ideal.Seconds(), "x-ideal")
			b.ReportMetric(nominal.Seconds(), "nominal-ideal-s")
		})
	}
}

// BenchmarkRecordFuncOverhead measures the machinery with a handler that does nothing:
// one op is one record, fed in batches of 1,000 with Concurrency 100.
func BenchmarkRecordFuncOverhead(b *testing.B) {
	const batch = 1000
	for _, c := range []struct {
		name     string
		keys     int
		ordering Ordering
	}{
		{"keys=10000", 10000, OrderByPartitionKey},
		{"keys=10", 10, OrderByPartitionKey},
		{"keys=1", 1, OrderByPartitionKey},
		{"OrderNone", 10000, OrderNone},
	} {
		b.Run(c.name, func(b *testing.B) {
			// Eight batches used in turn: at most MaxPrefetchBatches (3) are held at
			// once, so a batch is done before it is passed again.
			batches := make([][]Record, 8)
			all := benchRecords(batch*len(batches), c.keys)
			for i := range batches {
				batches[i] = all[i*batch : (i+1)*batch]
			}
			var handled atomic.Int64
			fn := func(context.Context, Record) error { handled.Add(1); return nil }
			p := newBenchProcessor(fn, 100, c.ordering)
			cp := &nopCheckpointer{}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += batch {
				recs := batches[(i/batch)%len(batches)][:min(batch, b.N-i)]
				if err := p.ProcessRecords(b.Context(), ProcessRecordsInput{Records: recs, Checkpointer: cp}); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.ShardEnded(b.Context(), ShardEndedInput{Checkpointer: cp}); err != nil {
				b.Fatal(err)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			if handled.Load() != int64(b.N) {
				b.Fatalf("%d records handled, want %d", handled.Load(), b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
		})
	}
}

// newBenchProcessor returns a processor from NewRecordFunc configured as the consumer
// would with the given options and the defaults otherwise.
func newBenchProcessor(fn func(context.Context, Record) error, concurrency int, ordering Ordering) *recordFuncProcessor {
	p := NewRecordFunc(fn)("shardId-000000000000").(*recordFuncProcessor)
	cfg := defaultRecordFuncConfig()
	cfg.concurrency, cfg.ordering = concurrency, ordering
	p.configure(cfg)
	return p
}
