package producer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// putAll puts n test records and waits for every result.
func putAll(t *testing.T, p *Producer, n int) []outcome {
	t.Helper()
	c := newCollector()
	for i := range n {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Flush(context.Background()))
	return c.exactlyOnce(t, n)
}

// backoffBounds returns the bounds of the n-th backoff (n from 1) of awserr.Backoff
// from base doubling to ceiling: equal jitter, between half and all of the delay.
func backoffBounds(n int, base, ceiling time.Duration) (lo, hi time.Duration) {
	d := min(base<<(n-1), ceiling)
	return d / 2, d
}

// checkRetryDelays checks that each retry of o started after the backoff of a
// record that failed with a retryable error other than throttling, within its
// bounds to the nanosecond: it starts as soon as the backoff is over.
func checkRetryDelays(t *testing.T, i int, o outcome) {
	t.Helper()
	for n, a := range o.res.Attempts[1:] {
		lo, hi := backoffBounds(n+1, retryBackoffMin, retryBackoffMax)
		assert.GreaterOrEqual(t, a.Delay, lo, "record %d, retry %d", i, n+1)
		assert.LessOrEqual(t, a.Delay, hi, "record %d, retry %d", i, n+1)
	}
}

func TestEntryFailuresAreRetried(t *testing.T) {
	for _, code := range []string{"ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"} {
		t.Run(code, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("s", 4)
				var mu sync.Mutex
				rng := rand.New(rand.NewPCG(1, 2))
				f.putHook = func(call int, in *kinesis.PutRecordsInput) ([]string, error) {
					if call > 6 {
						return nil, nil
					}
					mu.Lock()
					defer mu.Unlock()
					codes := make([]string, len(in.Records))
					for i := range codes {
						if rng.IntN(2) == 0 {
							codes[i] = code
						}
					}
					return codes, nil
				}
				p := newTestProducer(t, f, quiet, func(o *Options) { o.DisableAggregation = true })
				out := putAll(t, p, 500)
				retried := 0
				for i, o := range out {
					require.NoError(t, o.err, "record %d", i)
					last := o.res.Attempts[len(o.res.Attempts)-1]
					assert.True(t, last.Succeeded())
					for _, a := range o.res.Attempts[:len(o.res.Attempts)-1] {
						assert.Equal(t, code, a.ErrorCode)
						assert.False(t, a.Ambiguous, "an entry failure did not write the record")
						retried++
					}
					if code == "InternalFailure" {
						checkRetryDelays(t, i, o)
					} else { // throttled: the shard backs off, at least half its first backoff
						for n, a := range o.res.Attempts[1:] {
							assert.GreaterOrEqual(t, a.Delay, throttleBackoffMin/2, "record %d, retry %d", i, n+1)
						}
					}
				}
				assert.Positive(t, retried)
				checkWritten(t, f, 500, nil) // entry failures are never written: no duplicate
				assert.Positive(t, p.Stats().ErrorsByCode[code])
			})
		})
	}
}

func TestCallFailuresAreRetried(t *testing.T) {
	for name, fault := range map[string]error{
		"500":        apiError("InternalFailure", "boom", smithy.FaultServer),
		"503":        apiError("ServiceUnavailable", "busy", smithy.FaultServer),
		"throttling": apiError("LimitExceededException", "slow down", smithy.FaultClient),
		"timeout":    fmt.Errorf("operation error Kinesis: PutRecords: %w", context.DeadlineExceeded),
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("s", 2)
				f.putHook = func(call int, _ *kinesis.PutRecordsInput) ([]string, error) {
					if call <= 2 {
						return nil, fault
					}
					return nil, nil
				}
				p := newTestProducer(t, f, quiet)
				out := putAll(t, p, 200)
				retried := 0
				for i, o := range out {
					require.NoError(t, o.err, "record %d", i)
					if len(o.res.Attempts) > 1 {
						retried++
					}
					if name != "throttling" {
						checkRetryDelays(t, i, o)
					}
				}
				checkWritten(t, f, 200, nil)
				assert.Positive(t, retried)
				assert.GreaterOrEqual(t, f.putCalls(), 3)
			})
		})
	}
}

func TestAmbiguousFailuresMayDuplicateAndSaySo(t *testing.T) {
	synctest.Test(t, testAmbiguousFailuresMayDuplicateAndSaySo)
}

func testAmbiguousFailuresMayDuplicateAndSaySo(t *testing.T) {
	f := newFakeKinesis("s", 2)
	// The first two calls are written, but the caller sees a timeout.
	f.afterPut = func(call int) error {
		if call <= 2 {
			return fmt.Errorf("read response: %w", context.DeadlineExceeded)
		}
		return nil
	}
	p := newTestProducer(t, f, quiet, func(o *Options) { o.DisableAggregation = true })
	out := putAll(t, p, 300)
	ambiguous := make(map[int]bool)
	for i, o := range out {
		require.NoError(t, o.err)
		for _, a := range o.res.Attempts {
			if a.Ambiguous {
				assert.Equal(t, "Timeout", a.ErrorCode)
				ambiguous[i] = true
			}
		}
	}
	assert.NotEmpty(t, ambiguous)
	checkWritten(t, f, 300, func(i int) bool { return ambiguous[i] })
}

func TestNonRetryableErrorsFailFast(t *testing.T) {
	for name, tc := range map[string]struct {
		call  error
		entry string
		check func(t *testing.T, err error)
	}{
		"stream deleted": {call: apiError("ResourceNotFoundException", "Stream s not found", smithy.FaultClient), check: func(t *testing.T, err error) {
			var apiErr smithy.APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, "ResourceNotFoundException", apiErr.ErrorCode())
			assert.ErrorIs(t, err, ErrStreamNotFound)
		}},
		"validation": {call: apiError("ValidationException", "bad", smithy.FaultClient)},
		"access denied": {call: apiError("AccessDeniedException", "not authorized", smithy.FaultClient), check: func(t *testing.T, err error) {
			var ad *AccessDeniedError
			require.ErrorAs(t, err, &ad)
			assert.Equal(t, "kinesis:PutRecords", ad.Action)
			assert.Equal(t, "arn:aws:kinesis:us-east-1:000000000000:stream/s", ad.Resource)
			assert.ErrorIs(t, err, ErrAccessDenied)
			assert.Contains(t, err.Error(), "grant kinesis:PutRecords")
		}},
		"KMS key disabled": {entry: "KMSDisabledException", check: func(t *testing.T, err error) {
			var ee *EntryError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, "KMSDisabledException", ee.Code)
		}},
		"KMS access denied": {entry: "KMSAccessDeniedException", check: func(t *testing.T, err error) {
			var ad *AccessDeniedError
			require.ErrorAs(t, err, &ad)
			assert.Equal(t, "kms:GenerateDataKey", ad.Action)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeKinesis("s", 2)
				f.putHook = func(_ int, in *kinesis.PutRecordsInput) ([]string, error) {
					if tc.call != nil {
						return nil, tc.call
					}
					codes := make([]string, len(in.Records))
					for i := range codes {
						codes[i] = tc.entry
					}
					return codes, nil
				}
				p := newTestProducer(t, f, quiet)
				start := time.Now()
				out := putAll(t, p, 50)
				assertFromArrival(t, 0, time.Since(start), "failed at once (no backoff), not at the 30 s RecordTTL")
				for _, o := range out {
					require.Error(t, o.err)
					assert.False(t, IsRetryable(o.err))
					assert.NotErrorIs(t, o.err, ErrRecordExpired)
					assert.Len(t, o.res.Attempts, 1, "no retry")
					if tc.check != nil {
						tc.check(t, o.err)
					}
				}
				assert.EqualValues(t, 50, p.Stats().UserRecordsFailed)
			})
		})
	}
}

// The record fails as soon as its next backoff would end past its TTL: at the end of
// its last attempt, which started after each backoff to the nanosecond.
func TestExpiryWrapsTheLastCause(t *testing.T) {
	synctest.Test(t, testExpiryWrapsTheLastCause)
}

func testExpiryWrapsTheLastCause(t *testing.T) {
	f := newFakeKinesis("s", 1)
	f.putHook = func(_ int, in *kinesis.PutRecordsInput) ([]string, error) {
		codes := make([]string, len(in.Records))
		for i := range codes {
			codes[i] = "InternalFailure"
		}
		return codes, nil
	}
	p := newTestProducer(t, f, quiet, func(o *Options) { o.RecordTTL = 700 * time.Millisecond })
	start := time.Now()
	res, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
	elapsed := time.Since(start)
	require.ErrorIs(t, err, ErrRecordExpired)
	var ee *ExpiredError
	require.ErrorAs(t, err, &ee)
	assert.Greater(t, ee.Attempts, 1)
	var entry *EntryError
	require.ErrorAs(t, err, &entry, "the expiry wraps the last cause")
	assert.Equal(t, "InternalFailure", entry.Code)
	assert.Len(t, res.Attempts, ee.Attempts, "the attempts come with the failure")
	checkRetryDelays(t, 0, outcome{res, err})
	var sum time.Duration
	for _, a := range res.Attempts {
		sum += a.Delay + a.Duration
	}
	first := res.Attempts[0].Delay // the linger: RecordMaxBufferedTime
	assert.Equal(t, DefaultRecordMaxBufferedTime, first)
	assertFromArrival(t, sum, elapsed, "the attempts account for the whole time")
	assert.Less(t, elapsed, 700*time.Millisecond, "failed before its TTL: the next backoff would pass it")
	_, hi := backoffBounds(len(res.Attempts), retryBackoffMin, retryBackoffMax)
	assert.GreaterOrEqual(t, elapsed+hi, 700*time.Millisecond, "no further attempt could fit in the TTL")
	assert.EqualValues(t, 1, p.Stats().UserRecordsExpired)
}

// TestFailIfThrottled runs in a testing/synctest bubble: PutSync waits for the linger in fake time.
func TestFailIfThrottled(t *testing.T) { synctest.Test(t, testFailIfThrottled) }

func testFailIfThrottled(t *testing.T) {
	f := newFakeKinesis("s", 1)
	f.putHook = func(_ int, in *kinesis.PutRecordsInput) ([]string, error) {
		return []string{"ProvisionedThroughputExceededException"}, nil
	}
	p := newTestProducer(t, f, quiet, func(o *Options) { o.FailIfThrottled = true })
	res, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
	var ee *EntryError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, "ProvisionedThroughputExceededException", ee.Code)
	assert.Len(t, res.Attempts, 1)
}

func TestThrottledShardBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 1)
		var calls []time.Duration // when each call started, since the Put
		start := time.Now()
		f.putHook = func(_ int, in *kinesis.PutRecordsInput) ([]string, error) {
			calls = append(calls, time.Since(start))
			codes := make([]string, len(in.Records))
			for i := range codes {
				codes[i] = "ProvisionedThroughputExceededException"
			}
			return codes, nil
		}
		p, err := New(f, "s", quiet, func(o *Options) {
			o.RecordTTL = 1500 * time.Millisecond
			o.RecordMaxBufferedTime = -1
		})
		require.NoError(t, err)
		res, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
		require.ErrorIs(t, err, ErrRecordExpired)
		assert.Equal(t, 1500*time.Millisecond, time.Since(start), "failed at its TTL, not before or after")
		require.NoError(t, p.Close(context.Background()))
		// Each call starts when the shard's backoff ends: the n-th waits between half
		// and all of min(50 ms * 2^(n-1), 2 s) after the previous one, to the
		// nanosecond, and the record's attempts report those delays. The TTL of 1.5 s
		// leaves room for 5 or 6 calls (at least 25+50+100+200 ms, at most
		// 50+100+200+400+800 ms of backoff); retrying at once would make hundreds.
		require.GreaterOrEqual(t, len(calls), 5)
		require.LessOrEqual(t, len(calls), 6)
		require.Len(t, res.Attempts, len(calls))
		assert.Zero(t, calls[0])
		for n := 1; n < len(calls); n++ {
			lo, hi := backoffBounds(n, throttleBackoffMin, throttleBackoffMax)
			gap := calls[n] - calls[n-1]
			assert.GreaterOrEqual(t, gap, lo, "call %d", n+1)
			assert.LessOrEqual(t, gap, hi, "call %d", n+1)
			assert.Equal(t, gap, res.Attempts[n].Delay, "call %d", n+1)
		}
		_, hi := backoffBounds(len(calls), throttleBackoffMin, throttleBackoffMax)
		assert.GreaterOrEqual(t, calls[len(calls)-1]+hi, 1500*time.Millisecond, "another call could have fitted")
	})
}

func TestBackPressureBlocksPutUntilCtxEnds(t *testing.T) {
	synctest.Test(t, testBackPressureBlocksPutUntilCtxEnds)
}

func testBackPressureBlocksPutUntilCtxEnds(t *testing.T) {
	f := newFakeKinesis("s", 1)
	gate := make(chan struct{})
	f.putHook = func(int, *kinesis.PutRecordsInput) ([]string, error) {
		<-gate
		return nil, nil
	}
	p := newTestProducer(t, f, func(o *Options) {
		o.MaxBufferedRecords = 10
		o.RecordMaxBufferedTime = -1
	})
	c := newCollector()
	for i := range 10 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	assert.EqualValues(t, 10, p.Stats().UserRecordsPending)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		errc <- p.Put(ctx, Record{PartitionKey: "blocked", Data: []byte("x")}, func(Result, error) {
			t.Error("callback of a Put that returned an error")
		})
	}()
	synctest.Wait() // every goroutine waits: nothing can free the Put but its ctx
	select {
	case err := <-errc:
		t.Fatalf("Put returned %v on a full buffer", err)
	default:
	}
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)
	assert.EqualValues(t, 10, p.Stats().UserRecordsPending, "nothing buffered by the cancelled Put")

	close(gate)
	require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(10), Data: testData(10)}, c.done(10)))
	require.NoError(t, p.Flush(context.Background()))
	for _, o := range c.exactlyOnce(t, 11) {
		require.NoError(t, o.err)
	}
}

func TestSlowCallbacksCannotDeadlockFlushOrClose(t *testing.T) {
	synctest.Test(t, testSlowCallbacksCannotDeadlockFlushOrClose)
}

func testSlowCallbacksCannotDeadlockFlushOrClose(t *testing.T) {
	f := newFakeKinesis("s", 2)
	p, err := New(f, "s", func(o *Options) { o.MaxBufferedRecords = 20 })
	require.NoError(t, err)
	release := make(chan struct{})
	var called atomic.Int32
	slow := func(Result, error) {
		called.Add(1)
		<-release
	}
	for i := range 20 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, slow))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	assert.ErrorIs(t, p.Flush(ctx), context.DeadlineExceeded, "Flush gives up with its context")
	assert.Equal(t, 200*time.Millisecond, time.Since(start), "when its context ends")
	// The buffer is full until callbacks return: Put blocks, and its ctx frees it.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	start = time.Now()
	assert.ErrorIs(t, p.Put(ctx2, Record{PartitionKey: "k"}, nil), context.DeadlineExceeded)
	assert.Equal(t, 50*time.Millisecond, time.Since(start), "when its context ends")

	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	close(release)
	require.NoError(t, <-closed)
	assert.EqualValues(t, 20, called.Load())
}

func TestCloseWithEndedContextFailsTheRestOnce(t *testing.T) {
	synctest.Test(t, testCloseWithEndedContextFailsTheRestOnce)
}

func testCloseWithEndedContextFailsTheRestOnce(t *testing.T) {
	f := newFakeKinesis("s", 2)
	f.putHook = func(int, *kinesis.PutRecordsInput) ([]string, error) {
		return nil, apiError("InternalFailure", "boom", smithy.FaultServer) // keeps retrying
	}
	p, err := New(f, "s", quiet)
	require.NoError(t, err)
	c := newCollector()
	for i := range 200 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, p.Close(ctx), context.DeadlineExceeded)
	assert.Equal(t, 300*time.Millisecond, time.Since(start), "Close returns when its context ends")
	for _, o := range c.exactlyOnce(t, 200) {
		require.ErrorIs(t, o.err, ErrClosed)
	}
	assert.ErrorIs(t, p.Put(context.Background(), Record{PartitionKey: "k"}, nil), ErrClosed)
}

func TestCloseDrains(t *testing.T) {
	f := newFakeKinesis("s", 3)
	p, err := New(f, "s", func(o *Options) { o.RecordMaxBufferedTime = time.Hour })
	require.NoError(t, err)
	c := newCollector()
	for i := range 1000 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	require.NoError(t, p.Close(context.Background()))
	for _, o := range c.exactlyOnce(t, 1000) {
		require.NoError(t, o.err)
	}
	checkWritten(t, f, 1000, nil)
}

func TestRecordsBiggerThanAnAggregateGoAlone(t *testing.T) {
	f := newFakeKinesis("s", 1)
	p := newTestProducer(t, f, func(o *Options) { o.AggregationMaxSize = 1000 })
	c := newCollector()
	big := Record{PartitionKey: "big", Data: make([]byte, 5000)}
	require.NoError(t, p.Put(context.Background(), Record{PartitionKey: "a", Data: []byte("small-1")}, c.done(0)))
	require.NoError(t, p.Put(context.Background(), big, c.done(1)))
	require.NoError(t, p.Put(context.Background(), Record{PartitionKey: "b", Data: []byte("small-2")}, c.done(2)))
	require.NoError(t, p.Flush(context.Background()))
	out := c.exactlyOnce(t, 3)
	require.NoError(t, out[1].err)
	assert.False(t, out[1].res.Aggregated)
	assert.Less(t, out[0].res.SequenceNumber, out[1].res.SequenceNumber, "written in Put order")
}

// A PutRecords call that outlives RequestTimeout may have been written: its records are
// retried (an ambiguous "Timeout" attempt), although IsRetryable says no for a
// context.DeadlineExceeded of the caller's own.
func TestRequestTimeoutIsRetriedAsAmbiguous(t *testing.T) {
	synctest.Test(t, testRequestTimeoutIsRetriedAsAmbiguous)
}

func testRequestTimeoutIsRetriedAsAmbiguous(t *testing.T) {
	f := newFakeKinesis("s", 1)
	var calls atomic.Int32
	p := newTestProducer(t, &slowFirstPut{f, &calls}, quiet, func(o *Options) { o.RequestTimeout = 50 * time.Millisecond })
	res, err := p.PutSync(context.Background(), Record{PartitionKey: "k", Data: []byte("x")})
	require.NoError(t, err)
	require.Len(t, res.Attempts, 2)
	assert.Equal(t, "Timeout", res.Attempts[0].ErrorCode)
	assert.True(t, res.Attempts[0].Ambiguous)
	assert.Contains(t, res.Attempts[0].ErrorMessage, ErrRequestTimeout.Error())
	assert.Equal(t, 50*time.Millisecond, res.Attempts[0].Duration, "the call ended at RequestTimeout")
	assert.True(t, res.Attempts[1].Succeeded())
	checkRetryDelays(t, 0, outcome{res, err})
}

// slowFirstPut holds the first PutRecords call until its context ends.
type slowFirstPut struct {
	*fakeKinesis
	calls *atomic.Int32
}

func (s *slowFirstPut) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	if s.calls.Add(1) == 1 {
		<-ctx.Done()
		return nil, fmt.Errorf("operation error Kinesis: PutRecords: %w", ctx.Err())
	}
	return s.fakeKinesis.PutRecords(ctx, in, o...)
}

func TestIsRetryable(t *testing.T) {
	for err, want := range map[error]bool{
		apiError("ProvisionedThroughputExceededException", "", smithy.FaultClient): true,
		apiError("InternalFailure", "", smithy.FaultServer):                        true,
		apiError("SomethingNew", "", smithy.FaultServer):                           true,
		apiError("ValidationException", "", smithy.FaultClient):                    false,
		apiError("ResourceNotFoundException", "", smithy.FaultClient):              false,
		apiError("KMSNotFoundException", "", smithy.FaultClient):                   false,
		&EntryError{Code: "InternalFailure"}:                                       true,
		&EntryError{Code: "KMSInvalidStateException"}:                              false,
		context.Canceled:         false,
		context.DeadlineExceeded: false, // the caller's context ended: not retryable
		fmt.Errorf("operation error Kinesis: PutRecords: %w", context.Canceled):  false,
		fmt.Errorf("%w (6s): %w", ErrRequestTimeout, context.DeadlineExceeded):   true,
		callTimeout(context.Background(), time.Second, context.DeadlineExceeded): true,
		ErrClosed: false,
		&ExpiredError{Cause: apiError("InternalFailure", "", smithy.FaultServer)}: false,
		errors.New("connection reset by peer"):                                    true,
	} {
		assert.Equal(t, want, IsRetryable(err), "%v", err)
	}
}
