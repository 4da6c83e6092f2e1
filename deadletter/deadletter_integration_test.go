package deadletter

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/producer"
)

// A poison record goes to the dead-letter stream through the producer as an envelope,
// the shard goes on, and once the bug is fixed Replay puts it back into the original
// stream, where the consumer accepts it.
func TestGivenUpRecordGoesToTheDeadLetterStreamAndIsReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test against the local emulators; skipped with -short")
	}
	env := testbed.Get(t)
	kc := env.Kinesis()
	src, dlqStream := env.CreateStream(t, 1), env.CreateStream(t, 1)
	ctx := t.Context()

	var entries []types.PutRecordsRequestEntry
	for _, d := range []string{"a", "b", "poison", "c", "d"} {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("key-" + d), Data: []byte(d)})
	}
	_, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(src), Records: entries})
	require.NoError(t, err)

	newProducer := func(stream string) *producer.Producer {
		p, err := producer.New(kc, stream, func(o *producer.Options) { o.RecordMaxBufferedTime = 10 * time.Millisecond })
		require.NoError(t, err)
		t.Cleanup(func() { _ = p.Close(context.Background()) })
		return p
	}
	var fixed atomic.Bool
	var mu sync.Mutex
	var accepted []string
	handle := func(_ context.Context, _ string, recs []consumer.Record) error {
		for _, r := range recs {
			if string(r.Data) == "poison" && !fixed.Load() {
				return errors.New("bug: cannot parse poison")
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range recs {
			accepted = append(accepted, string(r.Data))
		}
		return nil
	}
	acceptedCopy := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), accepted...)
	}
	opts := func(worker string) func(*consumer.Options) {
		return func(o *consumer.Options) {
			o.WorkerID = worker
			o.InitialPosition = consumer.InitialPositionTrimHorizon
			o.IdleTimeBetweenReads = 100 * time.Millisecond
			o.MaxRetryBackoff = 100 * time.Millisecond
		}
	}
	c, err := consumer.New(kc, src, checkpoint.NewMemory(), consumer.NewFunc(handle), opts("w1"), func(o *consumer.Options) {
		o.BisectOnError = true
		o.MaxRetries = 1
		o.OnFailure = New(newProducer(dlqStream))
	})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	wg.Go(func() { assert.NoError(t, c.Run(runCtx)) })
	waitUntil(t, "the other records", func() bool { return len(acceptedCopy()) == 4 })
	assert.Equal(t, []string{"a", "b", "c", "d"}, acceptedCopy())

	// Fixed: replay the dead-letter stream into the original one.
	fixed.Store(true)
	var envs []Envelope
	replay := Replay(newProducer(src), func(e Envelope) bool {
		mu.Lock()
		envs = append(envs, e)
		mu.Unlock()
		return true
	})
	r, err := consumer.New(kc, dlqStream, checkpoint.NewMemory(), consumer.NewRecordFunc(replay), opts("replayer"))
	require.NoError(t, err)
	wg.Go(func() { assert.NoError(t, r.Run(runCtx)) })
	waitUntil(t, "the replayed record", func() bool { return len(acceptedCopy()) == 5 })
	assert.Equal(t, "poison", acceptedCopy()[4])
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, envs, 1)
	e := envs[0]
	assert.Equal(t, src, e.Stream)
	assert.Equal(t, "key-poison", e.PartitionKey)
	assert.Equal(t, "poison", string(e.Data))
	assert.Equal(t, consumer.RetriesExhausted, e.Reason)
	assert.Equal(t, "bug: cannot parse poison", e.Error)
	assert.Equal(t, "shardId-000000000000", e.ShardID)
	assert.NotEmpty(t, e.SequenceNumber)
	assert.GreaterOrEqual(t, e.Attempts, 2)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
