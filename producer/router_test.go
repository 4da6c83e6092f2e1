package producer

import (
	"context"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Put that finds maxQueuedChunks chunks waiting for the router waits until the
// router takes them, or its context ends, or the producer closes; nothing is queued.
func TestPutWaitsForTheRouterQueue(t *testing.T) {
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
	// Take the queue the way the router does, once the Put is waiting.
	for {
		r.mu.Lock()
		waiting := r.room != nil
		if waiting {
			r.full = nil
			r.queueTaken()
		}
		r.mu.Unlock()
		if waiting {
			break
		}
		runtime.Gosched()
	}
	assert.NoError(t, <-res)
}
