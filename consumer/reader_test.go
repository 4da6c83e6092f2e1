package consumer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

func TestGetRecordsThrottlingAndExpiredIteratorsLoseNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		want := putRecords(t, fake, stream, 8, 120, "a")
		var n, expired atomic.Int32
		fake.Control(kinesistest.OpGetRecords, func(c *kinesistest.Call) (any, error, bool) {
			c.KeepControl()
			switch n.Add(1) % 5 {
			case 1:
				return nil, &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")}, true
			case 3:
				expired.Add(1)
				return nil, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}, true
			}
			return nil, nil, false
		})
		r := newRecorder()
		c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1", func(o *Options) { o.MaxRecords = 7 })...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 30*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
		want = append(want, putRecords(t, fake, stream, 8, 30, "b")...)
		r.waitFor(t, 30*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		if r.total() != len(want) {
			t.Errorf("%d deliveries of %d records: a new iterator must start after the last record read", r.total(), len(want))
		}
		if got, want := fake.Stats().Calls[kinesistest.OpGetShardIterator], 2+int64(expired.Load()); got != want {
			t.Errorf("%d GetShardIterator calls, want %d: one per shard and one per expired iterator (throttling keeps it)", got, want)
		}
	})
}

func TestLeaseOfATrimmedShardIsEndedSoItsChildrenStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		store := checkpoint.NewMemory()
		// A lease for a shard the stream no longer lists (trimmed while nobody read it), and a
		// lease of its child waiting for it.
		ctx := context.Background()
		if _, err := store.CreateLease(ctx, checkpoint.Lease{Key: "shardId-000000000099", Checkpoint: checkpoint.PositionTrimHorizon}); err != nil {
			t.Fatal(err)
		}
		if _, err := store.CreateLease(ctx, checkpoint.Lease{Key: "shardId-000000000000", Checkpoint: checkpoint.PositionTrimHorizon, ParentShardIDs: []string{"shardId-000000000099"}}); err != nil {
			t.Fatal(err)
		}
		want := putRecords(t, fake, stream, 2, 10, "a")
		r := newRecorder()
		c, err := New(fake, stream, store, r.factory("w1"), fastOptions(t, "w1")...)
		if err != nil {
			t.Fatal(err)
		}
		stop := runConsumer(t, c)
		r.waitFor(t, 10*time.Second, "the child's records", func() bool { return r.distinct() >= len(want) })
		stop()
		r.checkComplete(t, want)
		if !r.hasEvent("ended w1 shardId-000000000099") {
			t.Errorf("ShardEnded not called for the trimmed shard: %v", r.eventsCopy())
		}
	})
}

func TestThrottlingExpiredIteratorsAndServerErrorsLoseNothing(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	plain := env.Kinesis()

	// Kinesis: the real per-shard limit of 5 GetRecords/s plus random throttles, expired
	// iterators and server errors.
	kinj := faults.New(nil, func(o *faults.Options) { o.Seed = 7; o.ShardLimits = &faults.ShardLimits{GetRecordsPerSecond: 5} })
	t.Cleanup(kinj.CloseIdleConnections)
	kinj.Add(faults.Rule{Op: "GetRecords", Times: 2, Fault: faults.ProvisionedThroughputExceeded()})
	kinj.Add(faults.Rule{Op: "GetRecords", Times: 2, Fault: faults.ExpiredIterator()})
	kinj.Add(faults.Rule{Op: "GetShardIterator", Times: 1, Fault: faults.ProvisionedThroughputExceeded()})
	kinj.Add(faults.Rule{Op: "GetRecords", Probability: 0.2, Fault: faults.ProvisionedThroughputExceeded()})
	kinj.Add(faults.Rule{Op: "GetRecords", Probability: 0.1, Fault: faults.ExpiredIterator()})
	kinj.Add(faults.Rule{Op: "GetRecords", Probability: 0.05, Fault: faults.InternalFailure()})
	kinj.Add(faults.Rule{Op: "GetShardIterator", Probability: 0.2, Fault: faults.ProvisionedThroughputExceeded()})
	kc := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = kinj.HTTPClient() })

	// DynamoDB: throttling of every kind of lease write and read.
	dinj := faults.New(nil, func(o *faults.Options) { o.Seed = 11 })
	t.Cleanup(dinj.CloseIdleConnections)
	for _, op := range []string{"UpdateItem", "GetItem", "Scan", "PutItem"} {
		dinj.Add(faults.Rule{Service: faults.ServiceDynamoDB, Op: op, Times: 2, Fault: faults.ProvisionedThroughputExceeded()})
		dinj.Add(faults.Rule{Service: faults.ServiceDynamoDB, Op: op, Probability: 0.25, Fault: faults.ProvisionedThroughputExceeded()})
	}
	dinj.Add(faults.Rule{Service: faults.ServiceDynamoDB, Op: "UpdateItem", Probability: 0.05, Fault: faults.Throttling()})
	ddb := env.DynamoDB(func(o *dynamodb.Options) { o.HTTPClient = noAbortClient{dinj.HTTPClient()} })
	store, err := checkpoint.NewDynamoDB(ddb, testbed.UniqueName("lease"), func(o *checkpoint.DynamoDBOptions) {
		o.Logger = testLogger(t, "store")
		o.RetryBaseDelay = 20 * time.Millisecond
	})
	if err != nil {
		t.Fatal(err)
	}

	r := newRecorder()
	for _, id := range []string{"w1", "w2"} {
		c, err := New(kc, stream, store, r.factory(id), testOptions(t, id, func(o *Options) { o.MaxRecords = 50 })...)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
	}
	want := putRecords(t, plain, stream, 16, 300, "a")
	r.waitFor(t, 90*time.Second, "the first records", func() bool { return r.distinct() >= len(want) })
	want = append(want, putRecords(t, plain, stream, 16, 200, "b")...)
	r.waitFor(t, 90*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)
	for _, op := range []string{"GetRecords", "GetShardIterator"} {
		if kinj.Injected(op) == 0 {
			t.Errorf("no fault injected into %s", op)
		}
	}
	for _, op := range []string{"UpdateItem", "Scan", "PutItem"} {
		if dinj.Injected(op) == 0 {
			t.Errorf("no fault injected into %s", op)
		}
	}
	t.Logf("%d records delivered %d times; Kinesis faults: GetRecords %d of %d calls, GetShardIterator %d of %d; DynamoDB faults: UpdateItem %d of %d, Scan %d of %d",
		len(want), r.total(), kinj.Injected("GetRecords"), kinj.Calls("GetRecords"), kinj.Injected("GetShardIterator"), kinj.Calls("GetShardIterator"),
		dinj.Injected("UpdateItem"), dinj.Calls("UpdateItem"), dinj.Injected("Scan"), dinj.Calls("Scan"))
}

// A shard that cannot be read (here: GetShardIterator refuses the checkpoint, as it does
// for a sequence number of another shard) must be loud: every failed call is counted by
// shard, operation and error code, and after stuckReadAfter without a successful read an
// ERROR names the shard and the error; a recovery is logged too.
func TestAShardThatCannotBeReadIsLoggedAsAnErrorAndCountedByCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		putRecords(t, fake, stream, 8, 40, "a")
		const stuck, healthy = "shardId-000000000000", "shardId-000000000001"
		var failing atomic.Bool
		failing.Store(true)
		fake.Control(kinesistest.OpGetShardIterator, func(c *kinesistest.Call) (any, error, bool) {
			c.KeepControl()
			if aws.ToString(c.Input.(*kinesis.GetShardIteratorInput).ShardId) == stuck && failing.Load() {
				return nil, &types.InvalidArgumentException{Message: aws.String("Unable to find record with provided SequenceNumber")}, true
			}
			return nil, nil, false
		})
		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		defer mp.Shutdown(context.Background())
		var logs syncBuffer
		c, err := New(fake, stream, checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), fastOptions(t, "w1", func(o *Options) {
			o.MeterProvider = mp
			o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
		})...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		}()

		stuckLines := func() []string {
			var out []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=ERROR") && strings.Contains(line, "cannot be read") {
					out = append(out, line)
				}
			}
			return out
		}
		time.Sleep(stuckReadAfter - time.Second)
		synctest.Wait()
		if got := stuckLines(); len(got) > 0 {
			t.Errorf("stuck shard logged before %v: %q", stuckReadAfter, got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := stuckLines()
		if len(got) != 1 || !strings.Contains(got[0], "shard="+stuck) || !strings.Contains(got[0], "InvalidArgumentException") {
			t.Errorf("after %v: want one ERROR naming %s and the error code, got %q", stuckReadAfter, stuck, got)
		}
		ints, _ := collect(t, reader)
		var n int64
		for _, p := range ints["ReadErrors"] {
			shard, _ := p.Attributes.Value("shard")
			op, _ := p.Attributes.Value("operation")
			code, _ := p.Attributes.Value("code")
			if shard.AsString() != stuck || op.AsString() != "GetShardIterator" || code.AsString() != "InvalidArgumentException" {
				t.Errorf("unexpected ReadErrors point %v = %d", p.Attributes.ToSlice(), p.Value)
			}
			n += p.Value
		}
		// One failed GetShardIterator per backoff of MaxRetryBackoff (50 ms: attempts wait
		// 25..50 ms) since the start.
		elapsed := time.Since(start)
		if lo, hi := int64(elapsed/c.opts.MaxRetryBackoff), int64(elapsed/(c.opts.MaxRetryBackoff/2))+1; n < lo || n > hi {
			t.Errorf("ReadErrors{shard=%s, operation=GetShardIterator, code=InvalidArgumentException} = %d after %v of failures, want %d..%d", stuck, n, elapsed, lo, hi)
		}

		time.Sleep(stuckReadAfter)
		synctest.Wait()
		if got := stuckLines(); len(got) != 2 {
			t.Errorf("want the ERROR repeated once per %v while the shard cannot be read, got %d lines", stuckReadAfter, len(got))
		}
		failing.Store(false)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if !strings.Contains(logs.String(), "readable again") {
			t.Error("no log line when the shard became readable again")
		}
	})
}

// Every service's throttling is throttling for the reader, as for the producer: a
// TooManyRequestsException or a bare HTTP 429 backs off and keeps the iterator, where a
// failure of another kind starts again from a new one.
func TestGetRecordsTooManyRequestsAndHTTP429AreThrottling(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 1, 20, "a")
		var n atomic.Int32
		fake.Control(kinesistest.OpGetRecords, func(c *kinesistest.Call) (any, error, bool) {
			c.KeepControl()
			switch n.Add(1) {
			case 1, 2:
				return nil, &smithy.GenericAPIError{Code: "TooManyRequestsException", Message: "Rate exceeded"}, true
			case 3, 4:
				return nil, &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusTooManyRequests}}, Err: errors.New("too many requests")}, true
			}
			return nil, nil, false
		})
		consumeAll(t, fake, stream, want, fastOptions(t, "w1"))
		if got := fake.Stats().Calls[kinesistest.OpGetShardIterator]; got != 1 {
			t.Errorf("%d GetShardIterator calls, want 1: throttling must keep the iterator", got)
		}
	})
}

// callTimes records when each call of an operation of the in-memory Kinesis arrived, and
// fails the first failures of them with err.
type callTimes struct {
	mu    sync.Mutex
	times []time.Time
}

func recordCalls(fake *kinesistest.Kinesis, op kinesistest.Op, failures int, err error) *callTimes {
	ct := &callTimes{}
	fake.Control(op, func(c *kinesistest.Call) (any, error, bool) {
		c.KeepControl()
		ct.mu.Lock()
		defer ct.mu.Unlock()
		ct.times = append(ct.times, time.Now())
		if len(ct.times) <= failures {
			return nil, err, true
		}
		return nil, nil, false
	})
	return ct
}

// gaps returns the time between consecutive calls.
func (ct *callTimes) gaps() []time.Duration {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(ct.times); i++ {
		out = append(out, ct.times[i].Sub(ct.times[i-1]))
	}
	return out
}

// A shard with a backlog is read at exactly 5 GetRecords calls per second (the service
// limit per shard): one call every minReadInterval, whatever the processing costs.
func TestReaderPacesGetRecordsAtFiveCallsPerSecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 1, 100, "a")
		calls := recordCalls(fake, kinesistest.OpGetRecords, 0, nil)
		r, stop := startRecording(t, fake, stream, fastOptions(t, "w1", func(o *Options) { o.MaxRecords = 10 }))
		r.waitFor(t, time.Minute, "all records", func() bool { return r.distinct() >= len(want) })
		time.Sleep(time.Second + minReadInterval/2) // and 5 empty reads at the tip
		stop()
		r.checkComplete(t, want)
		gaps := calls.gaps()
		if len(gaps) != 14 {
			t.Fatalf("%d GetRecords calls for 100 records at 10 per call and 1.1 s at the tip, want 10 + 5", len(gaps)+1)
		}
		for i, g := range gaps {
			if g != minReadInterval {
				t.Errorf("GetRecords call %d came %v after the one before, want exactly %v", i+2, g, minReadInterval)
			}
		}
	})
}

// A throttled GetRecords keeps its iterator and waits its backoff (from retryBase, equal
// jitter, up to MaxRetryBackoff), and never less than the 200 ms between calls: each
// retry starts within the exact bounds of its attempt.
func TestGetRecordsThrottlingBacksOffWithinTheExactBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 1, 20, "a")
		const throttled = 6
		calls := recordCalls(fake, kinesistest.OpGetRecords, throttled, &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")})
		const maxBackoff = 2 * time.Second
		consumeAll(t, fake, stream, want, fastOptions(t, "w1", func(o *Options) { o.MaxRetryBackoff = maxBackoff }))
		gaps := calls.gaps()
		if len(gaps) < throttled {
			t.Fatalf("%d GetRecords calls, want at least %d", len(gaps)+1, throttled+1)
		}
		for i, g := range gaps[:throttled] {
			ceiling := min(maxBackoff, retryBase<<i)
			lo, hi := max(minReadInterval, ceiling/2), max(minReadInterval, ceiling)
			if g < lo || g > hi {
				t.Errorf("retry %d came %v after the throttled call, want within [%v, %v]", i+1, g, lo, hi)
			}
		}
		if got := fake.Stats().Calls[kinesistest.OpGetShardIterator]; got != 1 {
			t.Errorf("%d GetShardIterator calls, want 1: throttling keeps the iterator", got)
		}
	})
}

// An expired iterator is replaced at once, twice in a row; a third expiry in a row waits
// the backoff of its attempt (3: from retryBase, 400..800 ms).
func TestAnExpiredIteratorIsReplacedAtOnceTwiceThenAfterABackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 1)
		want := putRecords(t, fake, stream, 1, 20, "a")
		reads := recordCalls(fake, kinesistest.OpGetRecords, 3, &types.ExpiredIteratorException{Message: aws.String("Iterator expired")})
		iterators := recordCalls(fake, kinesistest.OpGetShardIterator, 0, nil)
		consumeAll(t, fake, stream, want, fastOptions(t, "w1", func(o *Options) { o.MaxRetryBackoff = 10 * time.Second }))
		reads.mu.Lock()
		iterators.mu.Lock()
		defer reads.mu.Unlock()
		defer iterators.mu.Unlock()
		if len(iterators.times) != 4 || len(reads.times) < 4 {
			t.Fatalf("%d GetShardIterator and %d GetRecords calls, want 4 (one per expiry) and at least 4", len(iterators.times), len(reads.times))
		}
		for i := range 2 {
			if got := iterators.times[i+1].Sub(reads.times[i]); got != 0 {
				t.Errorf("expiry %d: a new iterator %v later, want at once", i+1, got)
			}
			if got := reads.times[i+1].Sub(reads.times[i]); got != minReadInterval {
				t.Errorf("expiry %d: the next read %v later, want the %v between reads", i+1, got, minReadInterval)
			}
		}
		if got := iterators.times[3].Sub(reads.times[2]); got < 2*retryBase || got > 4*retryBase {
			t.Errorf("third expiry: a new iterator %v later, want the backoff of attempt 3 (%v..%v)", got, 2*retryBase, 4*retryBase)
		}
	})
}
