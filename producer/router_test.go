package producer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Put that finds maxQueuedChunks chunks waiting for the router waits until the
// router takes them, or its context ends, or the producer closes; nothing is queued.
func TestPutWaitsForTheRouterQueue(t *testing.T) {
	synctest.Test(t, testPutWaitsForTheRouterQueue)
}

func testPutWaitsForTheRouterQueue(t *testing.T) {
	r := newRouter(&Producer{})
	defer r.poke.Stop()
	fill := func() {
		r.mu.Lock()
		for range maxQueuedChunks {
			r.full = append(r.full, &chunk{})
		}
		r.queued.Store(int32(len(r.full)))
		r.mu.Unlock()
	}
	require.NoError(t, r.waitRoom(context.Background(), nil), "room: returns at once")
	fill()

	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- r.waitRoom(ctx, nil) }()
	cancel()
	assert.ErrorIs(t, <-res, context.Canceled)

	closing := make(chan struct{})
	go func() { res <- r.waitRoom(context.Background(), closing) }()
	close(closing)
	assert.ErrorIs(t, <-res, ErrClosed)

	r.mu.Lock()
	r.room = nil // left by the waiters above
	r.mu.Unlock()
	go func() { res <- r.waitRoom(context.Background(), nil) }()
	synctest.Wait() // the Put waits
	// Take the queue the way the router does.
	r.mu.Lock()
	require.NotNil(t, r.room, "the Put waits for room")
	r.full = nil
	r.queueTaken()
	r.mu.Unlock()
	assert.NoError(t, <-res)
}

// An aggregate is sent when RecordMaxBufferedTime has passed since its first record:
// a record joining it later goes with it, one arriving after it was sent starts the
// next.
func TestLingerSendsAnAggregateAtItsFirstRecordsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		calls := recordCalls(f)
		p := newTestProducer(t, f)
		synctest.Wait() // the shard map is loaded: records are aggregated as they come
		start := time.Now()
		c := newCollector()
		put := func(i int, at time.Duration) {
			time.Sleep(time.Until(start.Add(at)))
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
		}
		put(0, 0)
		put(1, 99*time.Millisecond)
		put(2, 101*time.Millisecond)
		time.Sleep(time.Second)
		got := calls()
		require.Len(t, got, 2)
		assertFromArrival(t, DefaultRecordMaxBufferedTime, got[0].at.Sub(start), "the first aggregate")
		assertFromArrival(t, 101*time.Millisecond+DefaultRecordMaxBufferedTime, got[1].at.Sub(start), "the second")
		out := c.exactlyOnce(t, 3)
		assert.Equal(t, out[0].res.SequenceNumber, out[1].res.SequenceNumber, "records 0 and 1 share an aggregate")
		assert.NotEqual(t, out[1].res.SequenceNumber, out[2].res.SequenceNumber)
	})
}
