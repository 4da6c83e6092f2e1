package producer

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
)

// The producer finds partition keys in an aggregate's key table by pkHash, the
// MD5 it already has, instead of the Encoder's own hash: a key shared by records
// with and without explicit hash keys must still be tabled once (so aggregates
// are exactly as small as Add would make them), and the encoding must carry the
// records back intact.
func TestProducerKeyHashesTableEachKeyOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p := &Producer{keys: newKeyCache()}
	for round := range 100 {
		maxSize := 64 + rng.IntN(20000)
		keys := 1 + rng.IntN(50)
		enc := aggregation.NewEncoder(maxSize, 0)
		ref := aggregation.NewEncoder(maxSize, 0)
		var recs []urec
		for {
			r := Record{PartitionKey: fmt.Sprintf("k%d", rng.IntN(keys)), Data: make([]byte, rng.IntN(300))}
			for i := range r.Data {
				r.Data[i] = byte(rng.Uint32())
			}
			if rng.IntN(3) == 0 {
				r.ExplicitHashKey = aggregation.Hash128{Hi: rng.Uint64() % 3, Lo: rng.Uint64() % 5}.String()
			}
			u := urec{rec: r}
			var err error
			u.hash, err = aggregation.UserRecord(r).HashKey()
			require.NoError(t, err)
			ok := enc.AddHashed(r.PartitionKey, p.pkHash(&u), r.ExplicitHashKey, len(r.Data))
			require.Equal(t, ref.Add(r.PartitionKey, r.ExplicitHashKey, len(r.Data)), ok, "round %d", round)
			if !ok {
				break
			}
			recs = append(recs, u)
			require.Equal(t, ref.Size(), enc.Size(), "round %d: a key was tabled twice", round)
		}
		if len(recs) == 0 {
			continue
		}
		got := enc.AppendTo(nil, func(i int) []byte { return recs[i].rec.Data })
		require.Len(t, got, enc.Size())
		subs, err := aggregation.Deaggregate(got)
		require.NoError(t, err)
		require.Len(t, subs, len(recs))
		for i, s := range subs {
			assert.Equal(t, recs[i].rec.PartitionKey, s.PartitionKey)
			assert.Equal(t, recs[i].rec.ExplicitHashKey, s.ExplicitHashKey)
			assert.Equal(t, recs[i].rec.Data, s.Data)
		}
	}
}
