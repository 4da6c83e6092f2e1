package producer

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
)

// The producer's encoder must write exactly what aggregation.Aggregator writes and
// fill aggregates to the same byte.
func TestEncoderMatchesTheAggregationPackage(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for round := range 200 {
		maxSize := 64 + rng.IntN(20000)
		maxCount := 1 + rng.IntN(300)
		keys := 1 + rng.IntN(50)
		var enc aggEncoder
		enc.maxSize, enc.maxCount = maxSize, maxCount
		ref := aggregation.NewAggregator(maxSize, maxCount)
		var recs []urec
		for {
			r := Record{PartitionKey: fmt.Sprintf("k%d", rng.IntN(keys)), Data: make([]byte, rng.IntN(300))}
			for i := range r.Data {
				r.Data[i] = byte(rng.Uint32())
			}
			if rng.IntN(4) == 0 {
				r.ExplicitHashKey = aggregation.Hash128{Hi: rng.Uint64() % 3, Lo: rng.Uint64() % 5}.String()
			}
			u := urec{rec: r}
			u.hash, _ = aggregation.UserRecord(r).HashKey()
			collide := round%2 == 1
			if collide && rng.IntN(10) == 0 && r.ExplicitHashKey == "" {
				// Index collisions table a key twice: a valid, slightly bigger encoding.
				u.hash.Lo = 42
			}
			okRef := ref.Add(aggregation.UserRecord(r))
			ok := enc.add(&u)
			if !collide {
				require.Equal(t, okRef, ok, "round %d: Add after %d records", round, len(recs))
			}
			if !ok {
				break
			}
			recs = append(recs, u)
			if !collide {
				require.Equal(t, ref.Size(), enc.size())
			}
			require.LessOrEqual(t, enc.size(), maxSize)
		}
		if len(recs) < 2 {
			continue
		}
		want, _ := ref.Drain()
		got := enc.encode(nil, recs)
		if round%2 == 0 {
			require.True(t, bytes.Equal(want.Data, got), "round %d: encodings differ", round)
		}
		require.Len(t, got, enc.size())
		subs, err := aggregation.Deaggregate(got)
		require.NoError(t, err)
		require.Len(t, subs, len(recs))
		for i, s := range subs {
			assert.Equal(t, recs[i].rec.PartitionKey, s.PartitionKey)
			assert.Equal(t, recs[i].rec.ExplicitHashKey, s.ExplicitHashKey)
			assert.Equal(t, recs[i].rec.Data, s.Data)
		}
		enc.reset()
		assert.Zero(t, enc.body)
	}
}
