package producer

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestShardMapLoadFailures(t *testing.T) {
	t.Run("not found fails the waiting records fast", func(t *testing.T) {
		f := newFakeKinesis("other", 1)
		p := newTestProducer(t, &renamed{f, "missing"}, quiet)
		start := time.Now()
		_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "ResourceNotFoundException", apiErr.ErrorCode())
		assert.ErrorIs(t, err, ErrStreamNotFound)
		assert.Less(t, time.Since(start), 5*time.Second)
	})
	t.Run("a retryable failure expires the records with its cause", func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		f.listErr = apiError("LimitExceededException", "slow down", smithy.FaultClient)
		p := newTestProducer(t, f, quiet, func(o *Options) { o.RecordTTL = 300 * time.Millisecond })
		_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
		require.ErrorIs(t, err, ErrRecordExpired)
		var apiErr smithy.APIError
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, "LimitExceededException", apiErr.ErrorCode())
	})
}

// renamed is a client for a stream name the fake does not have.
type renamed struct {
	*fakeKinesis
	name string
}

func (r *renamed) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	cp := *in
	if cp.StreamName != nil {
		cp.StreamName = aws.String(r.name)
	}
	return r.fakeKinesis.ListShards(ctx, &cp, o...)
}

func TestShardMapIsPaged(t *testing.T) {
	f := newFakeKinesis("s", 5)
	f.pageSize = 2
	p := newTestProducer(t, f)
	out := putAll(t, p, 500)
	for _, o := range out {
		require.NoError(t, o.err)
	}
	assert.Len(t, p.Stats().Shards, 5)
	checkWritten(t, f, 500, nil)
}

func TestMaxRecordSizeComesFromTheStream(t *testing.T) {
	f := newFakeKinesisWith("s", 1, 2048)
	p := newTestProducer(t, f)
	_, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: make([]byte, 1<<20+100)})
	require.NoError(t, err, "a 2 MiB stream takes a record above 1 MiB")
	err = p.Put(context.Background(), Record{PartitionKey: "k", Data: make([]byte, 2<<20)}, nil)
	require.ErrorIs(t, err, ErrInvalidRecord)
}
