package consumer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// fanOutOptions are testOptions with enhanced fan-out and a unique consumer name.
func fanOutOptions(t testing.TB, worker, consumerName string, extra ...func(*Options)) []func(*Options) {
	return testOptions(t, worker, append([]func(*Options){func(o *Options) {
		o.Retrieval = RetrievalFanOut
		o.ConsumerName = consumerName
	}}, extra...)...)
}

// fanOutClient returns a Kinesis client for kinesis-mock with the initial-response shim
// (through an injector, returned for fault rules) and, when cut is not nil, cut's
// transport in front of it.
func fanOutClient(t *testing.T, env *testbed.Env, cut *cutTransport) (*kinesis.Client, *faults.Injector) {
	inj := faults.New(nil)
	t.Cleanup(inj.CloseIdleConnections)
	var rt http.RoundTripper = inj
	if cut != nil {
		cut.next = inj
		rt = cut
	}
	return env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = &http.Client{Transport: rt} }), inj
}

func TestFanOutDeliversInOrderFromTrimHorizonAndFromACheckpoint(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 2)
	kc, inj := fanOutClient(t, env, nil)
	store := newStore(t, env)
	name := testbed.UniqueName("app")
	want := putRecords(t, kc, stream, 8, 200, "a")

	r1 := newRecorder()
	c1, err := New(kc, stream, store, r1.factory("w1"), fanOutOptions(t, "w1", name)...)
	if err != nil {
		t.Fatal(err)
	}
	stop1 := runConsumer(t, c1)
	r1.waitFor(t, 60*time.Second, "records from TRIM_HORIZON", func() bool { return r1.distinct() >= len(want) })
	more := putRecords(t, kc, stream, 8, 100, "b")
	want = append(want, more...)
	r1.waitFor(t, 60*time.Second, "records put while subscribed", func() bool { return r1.distinct() >= len(want) })
	stop1()
	r1.checkComplete(t, want)
	if got := r1.total(); got != len(want) {
		t.Errorf("delivered %d records, want exactly %d", got, len(want))
	}
	if inj.Calls("GetRecords") != 0 || inj.Calls("SubscribeToShard") < 2 {
		t.Errorf("GetRecords calls %d, SubscribeToShard calls %d: want fan-out only", inj.Calls("GetRecords"), inj.Calls("SubscribeToShard"))
	}

	// A second run resumes at the checkpoints (AT_SEQUENCE_NUMBER, dropping the
	// checkpointed record) and reuses the registered consumer.
	third := putRecords(t, kc, stream, 8, 100, "c")
	r2 := newRecorder()
	c2, err := New(kc, stream, store, r2.factory("w2"), fanOutOptions(t, "w2", name)...)
	if err != nil {
		t.Fatal(err)
	}
	stop2 := runConsumer(t, c2)
	r2.waitFor(t, 60*time.Second, "records after the checkpoint", func() bool { return r2.distinct() >= len(third) })
	stop2()
	r2.checkComplete(t, third)
	if got := r2.total(); got != len(third) {
		t.Errorf("second run delivered %d records, want exactly the %d put after the checkpoint", got, len(third))
	}
	if n := inj.Calls("RegisterStreamConsumer"); n != 2 {
		t.Errorf("RegisterStreamConsumer calls %d, want 2 (the second reused the consumer)", n)
	}
}

func TestFanOutResumesAtTheRightRecordAfterSubscriptionErrors(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	// The first 3 subscriptions are cut by a connection reset after their first event,
	// and the 5th SubscribeToShard call fails outright.
	cut := &cutTransport{cuts: 3, afterEvents: 1}
	kc, inj := fanOutClient(t, env, cut)
	inj.Add(faults.Rule{Op: "SubscribeToShard", Match: func(c *faults.Call) bool { return cut.calls.Load() == 5 }, Times: 1, Fault: faults.ConnectionReset()})
	store := newStore(t, env)
	r := newRecorder()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	c, err := New(kc, stream, store, r.factory("w1"), fanOutOptions(t, "w1", testbed.UniqueName("app"), func(o *Options) { o.MeterProvider = mp })...)
	if err != nil {
		t.Fatal(err)
	}
	want := putRecords(t, kc, stream, 4, 40, "a")
	runConsumer(t, c)
	// Keep records coming until every fault happened: kinesis-mock notices a closed
	// subscription (and accepts a new one) only when it next sends records.
	for i := 0; cut.done.Load() < 3 || inj.Injected("SubscribeToShard") < 1; i++ {
		if i == 60 {
			t.Fatalf("after %d rounds: cut %d subscriptions, failed %d calls", i, cut.done.Load(), inj.Injected("SubscribeToShard"))
		}
		r.waitFor(t, 60*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		want = append(want, putRecords(t, kc, stream, 4, 20, fmt.Sprintf("b%d", i))...)
	}
	r.waitFor(t, 60*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	if got := r.total(); got != len(want) {
		t.Errorf("delivered %d records, want exactly %d: a resubscription must resume right after the last event", got, len(want))
	}
	if cut.done.Load() < 3 || inj.Injected("SubscribeToShard") != 1 {
		t.Errorf("cut %d subscriptions and failed %d calls; want 3 and 1", cut.done.Load(), inj.Injected("SubscribeToShard"))
	}
	ints, _ := collect(t, reader)
	if ok, failed, streamErrs := sum(ints["SubscribeToShard.Success"], "success", "true"), sum(ints["SubscribeToShard.Success"], "success", "false"),
		sum(ints["SubscribeToShard.StreamErrors"], "shard", "shardId-000000000000"); ok < 4 || failed < 1 || streamErrs < 3 {
		t.Errorf("metrics: SubscribeToShard.Success true=%d false=%d, StreamErrors=%d; want >= 4, >= 1, >= 3", ok, failed, streamErrs)
	}
}

func TestFanOutLeasesMoveBetweenWorkers(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	kc, _ := fanOutClient(t, env, nil)
	store := newStore(t, env)
	name := testbed.UniqueName("app")
	r := newRecorder()
	want := putRecords(t, kc, stream, 16, 200, "a")
	newWorker := func(id string) *Consumer {
		c, err := New(kc, stream, store, r.factory(id), fanOutOptions(t, id, name)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	stop1 := runConsumer(t, newWorker("w1"))
	r.waitFor(t, 30*time.Second, "w1 holding every lease", func() bool { return leaseCounts(t, store)["w1"] == 4 })
	runConsumer(t, newWorker("w2"))
	want = append(want, putRecords(t, kc, stream, 16, 100, "b")...)
	r.waitFor(t, 30*time.Second, "balanced leases", func() bool { return balanced(leaseCounts(t, store), "w1", "w2") })
	want = append(want, putRecords(t, kc, stream, 16, 100, "c")...)
	r.waitFor(t, 60*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	stop1()
	r.waitFor(t, 30*time.Second, "w2 holding every lease", func() bool { return leaseCounts(t, store)["w2"] == 4 })
	want = append(want, putRecords(t, kc, stream, 16, 100, "d")...)
	r.waitFor(t, 60*time.Second, "all records after the handover", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	t.Logf("%d records delivered %d times", len(want), r.total())
}

// cutTransport fails SubscribeToShard responses with a connection reset after
// afterEvents events (plus the initial-response), mid-stream, until it cut cuts of them.
type cutTransport struct {
	next        http.RoundTripper
	cuts        int32
	afterEvents int
	calls       atomic.Int32 // SubscribeToShard calls so far
	done        atomic.Int32 // subscriptions cut
}

func (c *cutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" {
		return c.next.RoundTrip(req)
	}
	c.calls.Add(1)
	resp, err := c.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK || c.done.Load() >= c.cuts {
		return resp, err
	}
	resp.Body = &cutBody{body: resp.Body, left: c.afterEvents + 1, done: &c.done}
	return resp, nil
}

// cutBody passes left whole event-stream messages, then fails like a reset connection.
type cutBody struct {
	body io.ReadCloser
	left int
	done *atomic.Int32
	once sync.Once
	msg  []byte // rest of the current message
}

func (b *cutBody) Read(p []byte) (int, error) {
	if len(b.msg) == 0 {
		if b.left == 0 {
			b.once.Do(func() { b.done.Add(1) })
			return 0, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
		}
		var prelude [4]byte
		if _, err := io.ReadFull(b.body, prelude[:]); err != nil {
			return 0, err
		}
		m := make([]byte, binary.BigEndian.Uint32(prelude[:]))
		copy(m, prelude[:])
		if _, err := io.ReadFull(b.body, m[4:]); err != nil {
			return 0, err
		}
		b.msg = m
		b.left--
	}
	n := copy(p, b.msg)
	b.msg = b.msg[n:]
	return n, nil
}

func (b *cutBody) Close() error { return b.body.Close() }

// newFanOutServer returns an in-process Kinesis (kinesistest) with stream "s" of the given
// shard count, and a *kinesis.Client of it: enhanced fan-out through the SDK's own event
// streams, like AWS's (an event without ContinuationSequenceNumber and with the
// ChildShards at a closed shard's end). Its connections are in memory: tests call it
// inside a testing/synctest bubble.
func newFanOutServer(t *testing.T, shards int, optFns ...func(*kinesistest.Options)) (*kinesistest.Server, *kinesis.Client) {
	t.Helper()
	srv := kinesistest.NewServer(t, optFns...)
	if err := srv.CreateStream("s", shards); err != nil {
		t.Fatal(err)
	}
	return srv, srv.Client()
}

// fastFanOutOptions are fastOptions with enhanced fan-out.
func fastFanOutOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return fastOptions(t, worker, append([]func(*Options){func(o *Options) { o.Retrieval = RetrievalFanOut }}, extra...)...)
}

// streamConsumers returns the consumers registered on stream "s".
func streamConsumers(t *testing.T, kc *kinesis.Client) []types.Consumer {
	t.Helper()
	ctx := context.Background()
	sum, err := kc.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := kc.ListStreamConsumers(ctx, &kinesis.ListStreamConsumersInput{StreamARN: sum.StreamDescriptionSummary.StreamARN})
	if err != nil {
		t.Fatal(err)
	}
	return out.Consumers
}

func TestFanOutNeedsAFanOutClient(t *testing.T) {
	srv := kinesistest.NewServer(t)
	fake := srv.Kinesis() // no SubscribeToShard: not a FanOutClient
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
	c, err := New(srv.Client(), "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }),
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
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 4)
		reshardScenario(t, kc, "s", checkpoint.NewMemory(), func(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
			return fastFanOutOptions(t, worker, append([]func(*Options){func(o *Options) { o.DeregisterOnShutdown = true }}, extra...)...)
		}, 300)
		if n := srv.Stats().Calls[kinesistest.OpRegisterStreamConsumer]; n != 2 {
			t.Errorf("RegisterStreamConsumer called %d times, want once per worker", n)
		}
	})
}

// A subscription ends after 5 minutes (like AWS's); the reader subscribes again after
// its last event: the records put later arrive once each, in order, through exactly one
// more SubscribeToShard call.
func TestFanOutSubscribesAgainWhenASubscriptionEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 1)
		want := putRecords(t, kc, "s", 4, 40, "a")
		r, _ := startRecording(t, kc, "s", fastFanOutOptions(t, "w1"))
		r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		if n := srv.Stats().Calls[kinesistest.OpSubscribeToShard]; n != 1 {
			t.Fatalf("%d SubscribeToShard calls before the subscription's end, want 1", n)
		}
		time.Sleep(kinesistest.DefaultSubscriptionDuration + time.Second)
		synctest.Wait()
		if n := srv.Stats().Calls[kinesistest.OpSubscribeToShard]; n != 2 {
			t.Errorf("%d SubscribeToShard calls a second after the first subscription ended, want 2", n)
		}
		want = append(want, putRecords(t, kc, "s", 4, 40, "b")...)
		r.waitFor(t, 10*time.Second, "records put after the renewal", func() bool { return r.distinct() >= len(want) })
		r.checkComplete(t, want)
		if got := r.total(); got != len(want) {
			t.Errorf("delivered %d records, want exactly %d: the new subscription starts after the last event", got, len(want))
		}
	})
}

// A failed SubscribeToShard call waits the backoff of its attempt from
// minSubscribeInterval (equal jitter, up to MaxRetryBackoff), and never less than the
// one call per second per shard: each retry starts within the exact bounds.
func TestFanOutFailedSubscribeToShardBacksOffWithinTheExactBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 1)
		want := putRecords(t, kc, "s", 2, 20, "a")
		const failures = 4
		calls := recordCalls(srv.Kinesis(), kinesistest.OpSubscribeToShard, failures, &types.LimitExceededException{Message: aws.String("Rate exceeded")})
		const maxBackoff = 10 * time.Second
		consumeAll(t, kc, "s", want, fastFanOutOptions(t, "w1", func(o *Options) { o.MaxRetryBackoff = maxBackoff }))
		gaps := calls.gaps()
		if len(gaps) != failures {
			t.Fatalf("%d SubscribeToShard calls, want %d failures and a success", len(gaps)+1, failures)
		}
		for i, g := range gaps {
			ceiling := min(maxBackoff, minSubscribeInterval<<i)
			lo, hi := max(minSubscribeInterval, ceiling/2), max(minSubscribeInterval, ceiling)
			if g < lo || g > hi {
				t.Errorf("retry %d came %v after the failed call, want within [%v, %v]", i+1, g, lo, hi)
			}
		}
	})
}

// A slow processor stops the subscription's reading: behind a blocked ProcessRecords the
// reader holds MaxPrefetchBatches events plus the one it is sending, and the SDK's event
// stream and the connection hold what they buffer; the server then cannot write its next
// event, so it reads no further records, however long the processor takes.
func TestFanOutBackPressureBoundsBufferedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 1)
		// 60 records of 300 KiB: an event holds at most 1 MiB, so 3 records each.
		const records, perEvent = 60, 3
		data := make([]byte, 300<<10)
		for i := 0; i < records; i += 10 {
			var entries []types.PutRecordsRequestEntry
			for j := range 10 {
				entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: fmt.Appendf(data[:0:0], "%06d%s", i+j, data[6:])})
			}
			if _, err := srv.Kinesis().PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: entries}); err != nil {
				t.Fatal(err)
			}
		}
		release := make(chan struct{})
		var calls, got atomic.Int32
		proc := NewFunc(func(ctx context.Context, shard string, recs []Record) error {
			calls.Add(1)
			got.Add(int32(len(recs)))
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
		const prefetch = 2
		c, err := New(kc, "s", checkpoint.NewMemory(), proc, fastFanOutOptions(t, "w1", func(o *Options) { o.MaxPrefetchBatches = prefetch })...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		read := srv.Stats().RecordsRead
		// The processor's event, prefetch in the channel, one the reader sends, one the
		// SDK decoded and one the server is writing.
		if bound := int64((1 + prefetch + 1 + 2) * perEvent); calls.Load() != 1 || read > bound || read < (1+prefetch+1)*perEvent {
			t.Errorf("behind a blocked processor (ProcessRecords calls %d) the server sent %d records, want %d..%d", calls.Load(), read, (1+prefetch+1)*perEvent, bound)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if now := srv.Stats().RecordsRead; now != read || calls.Load() != 1 {
			t.Errorf("a minute later the server sent %d records (was %d), ProcessRecords calls %d: the reading did not stop", now, read, calls.Load())
		}
		close(release)
		for got.Load() < records {
			time.Sleep(100 * time.Millisecond)
		}
		stop()
	})
}

func TestFanOutReusesTheConsumerAndDeregistersOnlyWhenAsked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 1)
		want := putRecords(t, kc, "s", 2, 20, "a")
		for i, deregister := range []bool{false, true} {
			consumeAll(t, kc, "s", want, fastFanOutOptions(t, "w1", func(o *Options) { o.DeregisterOnShutdown = deregister }))
			if got, want := srv.Stats().Calls[kinesistest.OpDeregisterStreamConsumer], int64(i); got != want {
				t.Errorf("run %d (DeregisterOnShutdown %v): %d deregistrations, want %d", i+1, deregister, got, want)
			}
		}
		if n := srv.Stats().Calls[kinesistest.OpRegisterStreamConsumer]; n != 2 {
			t.Errorf("RegisterStreamConsumer calls %d, want 2 (the second got ResourceInUse and reused it)", n)
		}
		if cs := streamConsumers(t, kc); len(cs) != 0 {
			t.Errorf("after the deregistration %d consumers are registered, want none", len(cs))
		}
	})
}

func TestFanOutRegistersAgainWhenTheConsumerIsDeregisteredWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, kc := newFanOutServer(t, 2)
		want := putRecords(t, kc, "s", 4, 40, "a")
		r, _ := startRecording(t, kc, "s", fastFanOutOptions(t, "w1"))
		r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
		cs := streamConsumers(t, kc)
		if len(cs) != 1 {
			t.Fatalf("%d consumers registered, want 1", len(cs))
		}
		if _, err := kc.DeregisterStreamConsumer(context.Background(), &kinesis.DeregisterStreamConsumerInput{ConsumerARN: cs[0].ConsumerARN}); err != nil {
			t.Fatal(err)
		}
		want = append(want, putRecords(t, kc, "s", 4, 40, "b")...)
		r.waitFor(t, 10*time.Second, "records after the deregistration", func() bool { return r.distinct() >= len(want) })
		r.checkComplete(t, want)
		if n := srv.Stats().Calls[kinesistest.OpRegisterStreamConsumer]; n != 2 {
			t.Errorf("RegisterStreamConsumer calls %d, want 2: registered again once", n)
		}
		if cs := streamConsumers(t, kc); len(cs) != 1 {
			t.Errorf("%d consumers registered after the new registration, want 1", len(cs))
		}
	})
}

// deniedRegistration is a fan-out client whose identity may not register stream consumers.
type deniedRegistration struct{ *kinesis.Client }

func (d deniedRegistration) RegisterStreamConsumer(context.Context, *kinesis.RegisterStreamConsumerInput, ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return nil, &types.AccessDeniedException{Message: aws.String("User: arn:aws:iam::1:user/x is not authorized to perform: kinesis:RegisterStreamConsumer")}
}

func TestFanOutAccessDeniedListsTheFanOutPermissions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, kc := newFanOutServer(t, 1)
		c, err := New(deniedRegistration{kc}, "s", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), fastFanOutOptions(t, "w1")...)
		if err != nil {
			t.Fatal(err)
		}
		err = c.Run(context.Background())
		var ade *AccessDeniedError
		if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &ade) {
			t.Fatalf("Run: %v, want an *AccessDeniedError", err)
		}
		msg := err.Error()
		for _, want := range []string{"may not call kinesis:RegisterStreamConsumer", "kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q: %s", want, msg)
			}
		}
		if strings.Contains(msg, "kinesis:GetRecords") || strings.Contains(msg, "kinesis:GetShardIterator") {
			t.Errorf("a fan-out consumer's message lists the polling permissions: %s", msg)
		}
	})
}
