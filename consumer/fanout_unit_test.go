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

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/kinesisfake"
)

// fakeFanOut is enhanced fan-out over the in-memory Kinesis: each subscription reads the
// shard with GetRecords and pushes the results as SubscribeToShard events through the
// SDK's event stream type (kinesis.NewSubscribeToShardEventStream with a scripted
// reader). Like AWS, the event at a closed shard's end has no ContinuationSequenceNumber
// and carries the ChildShards, which kinesis-mock cannot produce over SubscribeToShard.
// A subscription ends (like AWS's after 5 minutes) after eventsPerSubscription events.
type fakeFanOut struct {
	*kinesisfake.Kinesis
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

func TestFanOutNeedsAFanOutClient(t *testing.T) {
	fake, _ := newFakeStream(t, 1)
	_, err := New(fake, "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }),
		func(o *Options) { o.Retrieval = RetrievalFanOut })
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New with a polling-only client and fan-out: %v, want ErrInvalidOptions", err)
	}
	_, err = New(fake, "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }),
		func(o *Options) { o.Retrieval = "PUSH" })
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("New with an unknown Retrieval: %v, want ErrInvalidOptions", err)
	}
	c, err := New(&fakeFanOut{Kinesis: fake}, "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }),
		func(o *Options) { o.Retrieval = RetrievalFanOut; o.ApplicationName = "app" })
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.ConsumerName != "app" || c.opts.DeregisterOnShutdown {
		t.Errorf("ConsumerName %q DeregisterOnShutdown %v, want the application name and false", c.opts.ConsumerName, c.opts.DeregisterOnShutdown)
	}
}

// The end of a shard over fan-out (an event without ContinuationSequenceNumber, with
// ChildShards) takes the same path as polling: children start after their parents,
// nothing is lost or reordered, ShardEnded gets the children.
func TestFanOutShardEndWithChildShardsInMemory(t *testing.T) {
	f := newFakeFanOut(t, 4)
	f.eventsPerSubscription = 5
	reshardScenario(t, f, "s", checkpoint.NewMemory(), func(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
		return fastFanOutOptions(t, worker, append([]func(*Options){func(o *Options) { o.DeregisterOnShutdown = true }}, extra...)...)
	}, 300)
	if f.ended.Load() == 0 {
		t.Error("no subscription reached a shard end")
	}
	if f.subscriptions.Load() <= f.ended.Load()+4 {
		t.Errorf("%d subscriptions: the 5-event subscriptions were never renewed", f.subscriptions.Load())
	}
	if f.registered.Load() != 2 {
		t.Errorf("RegisterStreamConsumer called %d times, want once per worker", f.registered.Load())
	}
}

// A slow processor stops the subscription's reading: the reader holds at most
// MaxPrefetchBatches events plus one.
func TestFanOutBackPressureBoundsBufferedEvents(t *testing.T) {
	f := newFakeFanOut(t, 1)
	f.eventsPerSubscription = 1000
	putRecords(t, f, "s", 4, 700, "a") // 100 events of 7 records
	release := make(chan struct{})
	var calls atomic.Int32
	proc := NewFunc(func(ctx context.Context, shard string, recs []Record) error {
		calls.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	})
	c, err := New(f, "s", checkpoint.NewMemory(), proc, fastFanOutOptions(t, "w1", func(o *Options) { o.MaxPrefetchBatches = 2 })...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	// The processor blocks on the first event; then the reader takes at most
	// MaxPrefetchBatches (the channel) + 1 (its blocked send) more, and the pump's next
	// offer must stay pending: the event stream is not read any further.
	waitUntil(t, 10*time.Second, "the pipeline to fill", func() bool { return calls.Load() == 1 && f.offered.Load() >= 5 })
	if got := f.sent.Load(); got != 4 {
		t.Errorf("the reader took %d events behind a blocked processor, want 1 + 2 + 1 = 4", got)
	}
	// A grace period for a wrongly unbounded reader to show itself.
	time.Sleep(100 * time.Millisecond)
	if got := f.sent.Load(); got != 4 || calls.Load() != 1 {
		t.Errorf("after 100ms the reader took %d events (want 4), ProcessRecords calls %d", got, calls.Load())
	}
	close(release)
	stop()
}

// waitUntil polls cond until it holds, failing after timeout.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFanOutReusesTheConsumerAndDeregistersOnlyWhenAsked(t *testing.T) {
	f := newFakeFanOut(t, 1)
	want := putRecords(t, f, "s", 2, 20, "a")
	for i, deregister := range []bool{false, true} {
		r := newRecorder()
		c, err := New(f, "s", checkpoint.NewMemory(), r.factory("w1"), fastFanOutOptions(t, "w1", func(o *Options) { o.DeregisterOnShutdown = deregister })...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		if got, want := f.deregistered.Load(), int32(i); got != want {
			t.Errorf("run %d (DeregisterOnShutdown %v): %d deregistrations, want %d", i+1, deregister, got, want)
		}
	}
	if f.registered.Load() != 2 {
		t.Errorf("RegisterStreamConsumer calls %d, want 2 (the second got ResourceInUse and reused it)", f.registered.Load())
	}
}

func TestFanOutRegistersAgainWhenTheConsumerIsDeregisteredWhileRunning(t *testing.T) {
	f := newFakeFanOut(t, 2)
	want := putRecords(t, f, "s", 4, 40, "a")
	r := newRecorder()
	c, err := New(f, "s", checkpoint.NewMemory(), r.factory("w1"), fastFanOutOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
	old := f.currentARN()
	if _, err := f.DeregisterStreamConsumer(context.Background(), &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(old)}); err != nil {
		t.Fatal(err)
	}
	want = append(want, putRecords(t, f, "s", 4, 40, "b")...)
	r.waitFor(t, 10*time.Second, "records after the deregistration", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	if arn := f.currentARN(); arn == "" || arn == old {
		t.Errorf("consumer ARN %q after the deregistration of %q, want a new registration", arn, old)
	}
}
