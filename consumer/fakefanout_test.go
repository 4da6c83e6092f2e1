package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/kinesistest"
)

// fakeFanOut is enhanced fan-out over the in-memory Kinesis: each subscription reads the
// shard with GetRecords and pushes the results as SubscribeToShard events through the
// SDK's event stream type (kinesis.NewSubscribeToShardEventStream with a scripted
// reader). Like AWS, the event at a closed shard's end has no ContinuationSequenceNumber
// and carries the ChildShards, which kinesis-mock cannot produce over SubscribeToShard.
// A subscription ends (like AWS's after 5 minutes) after eventsPerSubscription events.
type fakeFanOut struct {
	*kinesistest.Kinesis
	eventsPerSubscription int

	subscriptions atomic.Int32
	ended         atomic.Int32 // subscriptions that ended at a shard end
	registered    atomic.Int32 // RegisterStreamConsumer calls
	deregistered  atomic.Int32

	mu      sync.Mutex
	arn     string // the registered consumer; "" when none
	version int
	offered atomic.Int32 // events the pump tried to hand over
	sent    atomic.Int32 // events the reader took
}

func (f *fakeFanOut) currentARN() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arn
}

func (f *fakeFanOut) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	f.registered.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.arn != "" {
		return nil, &types.ResourceInUseException{Message: aws.String("consumer exists")}
	}
	f.version++
	f.arn = fmt.Sprintf("arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/%s:%d", aws.ToString(in.ConsumerName), f.version)
	return &kinesis.RegisterStreamConsumerOutput{Consumer: &types.Consumer{ConsumerARN: aws.String(f.arn), ConsumerName: in.ConsumerName, ConsumerStatus: types.ConsumerStatusCreating}}, nil
}

func (f *fakeFanOut) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	arn := f.currentARN()
	if arn == "" || in.ConsumerARN != nil && *in.ConsumerARN != arn {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such consumer")}
	}
	return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: &types.ConsumerDescription{ConsumerARN: aws.String(arn), ConsumerStatus: types.ConsumerStatusActive}}, nil
}

func (f *fakeFanOut) DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.arn == "" || aws.ToString(in.ConsumerARN) != f.arn {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such consumer")}
	}
	f.arn = ""
	f.deregistered.Add(1)
	return &kinesis.DeregisterStreamConsumerOutput{}, nil
}

func (f *fakeFanOut) SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, _ ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error) {
	return nil, errors.New("fakeFanOut: the consumer subscribes through subscribeStream")
}

func (f *fakeFanOut) subscribeStream(ctx context.Context, in *kinesis.SubscribeToShardInput) (eventStream, error) {
	if arn := f.currentARN(); arn == "" || aws.ToString(in.ConsumerARN) != arn {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such consumer")}
	}
	sp := in.StartingPosition
	it, err := f.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("s"), ShardId: in.ShardId, ShardIteratorType: sp.Type,
		StartingSequenceNumber: sp.SequenceNumber, Timestamp: sp.Timestamp,
	})
	if err != nil {
		return nil, err
	}
	f.subscriptions.Add(1)
	r := &fakeEventReader{ch: make(chan types.SubscribeToShardEventStream), done: make(chan struct{})}
	r.wg.Go(func() { f.pump(r, aws.ToString(it.ShardIterator)) })
	return kinesis.NewSubscribeToShardEventStream(func(es *kinesis.SubscribeToShardEventStream) { es.Reader = r }), nil
}

// pump turns GetRecords results into events until the subscription's event budget is
// spent, the shard ends or the reader is closed.
func (f *fakeFanOut) pump(r *fakeEventReader, iterator string) {
	defer close(r.ch)
	for sent := 0; sent < f.eventsPerSubscription; {
		out, err := f.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String(iterator), Limit: aws.Int32(7)})
		if err != nil {
			r.setErr(err)
			return
		}
		ev := types.SubscribeToShardEvent{Records: out.Records, MillisBehindLatest: out.MillisBehindLatest}
		end := out.NextShardIterator == nil
		switch {
		case end:
			ev.ChildShards = out.ChildShards // and no ContinuationSequenceNumber
		case len(out.Records) > 0:
			ev.ContinuationSequenceNumber = out.Records[len(out.Records)-1].SequenceNumber
		}
		if len(out.Records) > 0 || end {
			f.offered.Add(1)
			select {
			case r.ch <- &types.SubscribeToShardEventStreamMemberSubscribeToShardEvent{Value: ev}:
				f.sent.Add(1)
				sent++
			case <-r.done:
				return
			}
		}
		if end {
			f.ended.Add(1)
			return
		}
		iterator = aws.ToString(out.NextShardIterator)
		if len(out.Records) == 0 {
			select {
			case <-time.After(10 * time.Millisecond):
			case <-r.done:
				return
			}
		}
	}
}

// fakeEventReader implements kinesis.SubscribeToShardEventStreamReader.
type fakeEventReader struct {
	ch   chan types.SubscribeToShardEventStream
	done chan struct{}
	once sync.Once
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
}

func (r *fakeEventReader) Events() <-chan types.SubscribeToShardEventStream { return r.ch }

func (r *fakeEventReader) Close() error {
	r.once.Do(func() { close(r.done) })
	r.wg.Wait()
	return nil
}

func (r *fakeEventReader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func (r *fakeEventReader) setErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

func newFakeFanOut(t testing.TB, shards int32) *fakeFanOut {
	fake, _ := newFakeStream(t, shards)
	return &fakeFanOut{Kinesis: fake, eventsPerSubscription: 3}
}

func fastFanOutOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return fastOptions(t, worker, append([]func(*Options){func(o *Options) { o.Retrieval = RetrievalFanOut }}, extra...)...)
}
