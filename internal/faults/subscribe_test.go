package faults_test

import (
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// subscribeFirstEvent registers a consumer, puts records and returns the first event of a
// TRIM_HORIZON subscription made with client, or the subscription's error.
func subscribeFirstEvent(t *testing.T, env *testbed.Env, client *kinesis.Client) (*types.SubscribeToShardEvent, error) {
	t.Helper()
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	plain := env.Kinesis()
	sum, err := plain.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(3, "sub", 8)}); err != nil {
		t.Fatal(err)
	}
	reg, err := plain.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{
		StreamARN: sum.StreamDescriptionSummary.StreamARN, ConsumerName: aws.String("c1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		d, err := plain.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: reg.Consumer.ConsumerARN})
		if err != nil {
			t.Fatal(err)
		}
		if d.ConsumerDescription.ConsumerStatus == types.ConsumerStatusActive {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("consumer never became ACTIVE")
		case <-time.After(50 * time.Millisecond): // kinesis-mock activates asynchronously
		}
	}
	out, err := client.SubscribeToShard(ctx, &kinesis.SubscribeToShardInput{
		ConsumerARN:      reg.Consumer.ConsumerARN,
		ShardId:          aws.String("shardId-000000000000"),
		StartingPosition: &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon},
	})
	if err != nil {
		return nil, err
	}
	es := out.GetStream()
	defer es.Close()
	for ev := range es.Events() {
		if e, ok := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent); ok {
			return &e.Value, nil
		}
	}
	if err := es.Err(); err != nil {
		return nil, err
	}
	return nil, errors.New("event stream ended without an event")
}

func TestSubscribeToShardWorksThroughTheInjector(t *testing.T) {
	env := testbed.Get(t)
	inj := newInjector(t)
	ev, err := subscribeFirstEvent(t, env, env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }))
	if err != nil {
		t.Fatalf("SubscribeToShard through the injector: %v", err)
	}
	if len(ev.Records) != 3 {
		t.Fatalf("first event has %d records, want the 3 put", len(ev.Records))
	}
}

func TestSubscribeClientOptionsMakeTheSDKClientWork(t *testing.T) {
	env := testbed.Get(t)
	opt := faults.SubscribeClientOptions(nil)
	client := env.Kinesis(opt)
	t.Cleanup(func() {
		if c, ok := client.Options().HTTPClient.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	})
	ev, err := subscribeFirstEvent(t, env, client)
	if err != nil {
		t.Fatalf("SubscribeToShard with SubscribeClientOptions: %v", err)
	}
	if len(ev.Records) != 3 {
		t.Fatalf("first event has %d records, want the 3 put", len(ev.Records))
	}
}

func TestSubscribeToShardFailsWithoutTheShim(t *testing.T) {
	env := testbed.Get(t)
	inj := newInjector(t, func(o *faults.Options) { o.DisableSubscribeShim = true })
	_, err := subscribeFirstEvent(t, env, env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }))
	if err == nil {
		t.Fatal("SubscribeToShard against kinesis-mock without the shim succeeded; the shim may no longer be needed")
	}
	t.Logf("without the shim: %v", err)
}
