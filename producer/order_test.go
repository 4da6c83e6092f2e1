package producer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
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
