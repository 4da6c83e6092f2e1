package producer

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With PreserveOrder a shard has one call in flight; what is put for the shard
// meanwhile fills one aggregate (up to AggregationMaxSize), even while
// RecordMaxBufferedTime passes several times, instead of queueing as small aggregates
// that each cost a round trip.
func TestPreserveOrderFillsTheNextAggregateWhileACallIsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		gate := make(chan struct{})
		f.putHook = func(call int, _ *kinesis.PutRecordsInput) ([]string, error) {
			if call == 1 {
				<-gate
			}
			return nil, nil
		}
		p, err := New(f, "s", quiet, func(o *Options) {
			o.PreserveOrder = true
			o.RecordMaxBufferedTime = 10 * time.Millisecond
		})
		require.NoError(t, err)
		c := newCollector()
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(0), Data: testData(0)}, c.done(0)))
		time.Sleep(50 * time.Millisecond) // sent: the call waits at the gate
		require.Equal(t, 1, f.putCalls())
		for i := 1; i <= 300; i++ {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
			if i%50 == 0 {
				time.Sleep(25 * time.Millisecond) // the linger passes twice
			}
		}
		synctest.Wait()
		assert.Equal(t, 1, f.putCalls(), "nothing else is sent while the shard's call is in flight")
		close(gate)
		require.NoError(t, p.Flush(context.Background()))
		out := c.exactlyOnce(t, 301)
		seqs := make(map[string]int)
		for i, o := range out[1:] {
			require.NoError(t, o.err, "record %d", i+1)
			seqs[o.res.SequenceNumber]++
		}
		assert.Len(t, seqs, 1, "the 300 records waiting for the shard went in one aggregate")
		assert.Equal(t, 2, f.putCalls())
		require.NoError(t, p.Close(context.Background()))
	})
}

func TestPreserveOrder(t *testing.T) {
	for _, agg := range []bool{true, false} {
		t.Run(map[bool]string{true: "aggregated", false: "plain"}[agg], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("s", 4)
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(7, 7))
				f.putHook = func(call int, in *kinesis.PutRecordsInput) ([]string, error) {
					mu.Lock()
					defer mu.Unlock()
					if call > 60 {
						return nil, nil
					}
					if rng.IntN(10) == 0 {
						return nil, apiError("InternalFailure", "boom", smithy.FaultServer)
					}
					codes := make([]string, len(in.Records))
					for i := range codes {
						if rng.IntN(3) == 0 {
							codes[i] = "ProvisionedThroughputExceededException"
						}
					}
					return codes, nil
				}
				p := newTestProducer(t, f, quiet, func(o *Options) {
					o.PreserveOrder = true
					o.DisableAggregation = !agg
					o.RecordMaxBufferedTime = time.Millisecond
					o.AggregationMaxSize = 2000 // many aggregates per shard
				})
				c := newCollector()
				n := 3000
				if !agg {
					n = 600
				}
				for i := range n {
					require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i % 40), Data: testData(i)}, c.done(i)))
				}
				require.NoError(t, p.Flush(context.Background()))
				out := c.exactlyOnce(t, n)
				last := make(map[string]Result)
				retried := 0
				for i, o := range out {
					require.NoError(t, o.err, "record %d", i)
					if len(o.res.Attempts) > 1 {
						retried++
					}
					prev, ok := last[o.res.ShardID]
					if ok {
						after := o.res.SequenceNumber > prev.SequenceNumber ||
							(o.res.SequenceNumber == prev.SequenceNumber && o.res.SubSequenceNumber > prev.SubSequenceNumber)
						require.True(t, after, "record %d written before an earlier record of shard %s", i, o.res.ShardID)
					}
					last[o.res.ShardID] = o.res
				}
				assert.Positive(t, retried, "the test must exercise retries")
			})
		})
	}
}
