package sink

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
)

func process(t *testing.T, p *processor, cp consumer.Checkpointer, rs []consumer.Record) {
	t.Helper()
	if err := p.ProcessRecords(context.Background(), consumer.ProcessRecordsInput{ShardID: testShard, Records: rs, Checkpointer: cp}); err != nil {
		t.Fatal(err)
	}
}

func TestBatchIsWrittenExactlyOneIntervalAfterItsFirstRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		start := time.Now()
		process(t, p, cp, recs(1, 2, nil))
		time.Sleep(30 * time.Second)
		process(t, p, cp, recs(3, 3, nil))
		time.Sleep(30*time.Second - time.Nanosecond)
		synctest.Wait()
		if n := len(dest.names()); n != 0 {
			t.Fatalf("%d objects before the interval passed", n)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := time.Since(start); got != time.Minute {
			t.Errorf("written after %v, want exactly the interval", got)
		}
		want := "p/2018/08/27/10/s-" + testShard + "-" + seq(1) + "-" + seq(3) + ".json"
		if names := dest.names(); !slices.Equal(names, []string{want}) {
			t.Fatalf("objects %q, want %q", names, want)
		}
		if got := string(dest.dataObjects()[want]); got != "d1\nd2\nd3\n" {
			t.Errorf("object holds %q", got)
		}
		if got := cp.last(); got.SequenceNumber != seq(3) {
			t.Errorf("checkpoint %v, want the last record %s", got, seq(3))
		}
	})
}

func TestBatchIsWrittenWhenAPartitionReachesBufferSize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) { o.BufferSize = 6 })
		process(t, p, cp, recs(1, 4, nil)) // 2 bytes each: the third reaches 6
		names := dest.names()
		if len(names) != 1 || !strings.HasSuffix(names[0], seq(1)+"-"+seq(3)+".json") {
			t.Fatalf("objects %q, want one with records 1-3", names)
		}
		if got := cp.last(); got.SequenceNumber != seq(3) {
			t.Errorf("checkpoint %v, want record 3", got)
		}
	})
}

func TestMaxBufferedBytesWritesEveryPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.BufferSize = 100
			o.MaxBufferedBytes = 8
			o.Prefix = "k=!{partitionKeyFromLambda:k}/"
			o.PartitionKeyFunc = func(r consumer.Record) (map[string]string, error) {
				return map[string]string{"k": r.PartitionKey}, nil
			}
		})
		process(t, p, cp, recs(1, 5, nil))
		if n := len(dest.names()); n != 4 {
			t.Fatalf("%d objects, want one per partition of records 1-4: %q", n, dest.names())
		}
		if got := cp.last(); got.SequenceNumber != seq(4) {
			t.Errorf("checkpoint %v, want record 4", got)
		}
	})
}

func TestPartitionsFromAJSONFieldShareOneCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.Prefix = "customer_id=!{partitionKeyFromQuery:customer_id}/device=!{partitionKeyFromQuery:device}/"
			o.PartitionKeyQueries = map[string]string{"customer_id": ".customer_id", "device": ".type.device"}
		})
		data := func(n int) string {
			return `{"type":{"device":"mobile"},"customer_id":` + []string{`"1234567890"`, `42`}[n%2] + `,"n":` + string(rune('0'+n)) + `}`
		}
		process(t, p, cp, recs(1, 4, data))
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []string{
			"customer_id=1234567890/device=mobile/s-" + testShard + "-" + seq(2) + "-" + seq(4) + ".json",
			"customer_id=42/device=mobile/s-" + testShard + "-" + seq(1) + "-" + seq(3) + ".json",
		}
		if names := dest.names(); !slices.Equal(names, want) {
			t.Fatalf("objects\n%q\nwant\n%q", names, want)
		}
		if len(cp.at) != 1 || cp.last().SequenceNumber != seq(4) {
			t.Errorf("checkpoints %v, want one at record 4 after both objects", cp.at)
		}
	})
}

func TestRejectedRecordsGoToTheErrorOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.Prefix = "ok/!{timestamp:yyyy}/"
			o.ErrorOutputPrefix = "failed/!{firehose:error-output-type}/!{timestamp:yyyy}/"
			o.Transform = func(r consumer.Record) ([]byte, error) {
				if string(r.Data) == "d2" {
					return nil, errors.New("no d2 please")
				}
				return append([]byte("T"), r.Data...), nil
			}
		})
		process(t, p, cp, recs(1, 3, nil))
		time.Sleep(time.Minute)
		synctest.Wait()
		objs := dest.dataObjects()
		if got := string(objs["ok/2018/s-"+testShard+"-"+seq(1)+"-"+seq(3)+".json"]); got != "Td1\nTd3\n" {
			t.Errorf("delivered object holds %q", got)
		}
		failed := objs["failed/processing-failed/2018/s-"+testShard+"-"+seq(2)+"-"+seq(2)+".json"]
		var er ErrorRecord
		if err := json.Unmarshal(failed, &er); err != nil {
			t.Fatalf("error object %q: %v (objects %q)", failed, err, dest.names())
		}
		if er.ErrorOutputType != ErrorOutputProcessingFailed || string(er.RawData) != "d2" || er.SequenceNumber != seq(2) ||
			!strings.Contains(er.ErrorMessage, "no d2 please") {
			t.Errorf("error record %+v", er)
		}
		if cp.last().SequenceNumber != seq(3) {
			t.Errorf("checkpoint %v: a rejected record is delivered to the error output, so the checkpoint passes it", cp.last())
		}
	})
}

func TestUnusablePartitionKeysGoToTheErrorOutput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.Prefix = "c=!{partitionKeyFromQuery:c}/"
			o.PartitionKeyQueries = map[string]string{"c": ".c"}
		})
		data := []string{`{"c":"a"}`, `{"c":"../etc"}`, `not json`, `{"d":1}`, `{"c":null}`}
		process(t, p, cp, recs(1, 5, func(n int) string { return data[n-1] }))
		time.Sleep(time.Minute)
		synctest.Wait()
		var failed int
		for name, body := range dest.dataObjects() {
			if strings.HasPrefix(name, "processing-failed/") {
				failed += strings.Count(string(body), "\n")
			}
		}
		if failed != 4 {
			t.Errorf("%d records in the error output, want 4; objects %q", failed, dest.names())
		}
	})
}

func TestDelimiters(t *testing.T) {
	for _, tc := range []struct {
		name  string
		delim []byte
		want  string
	}{
		{"default newline", nil, "d1\nd2\n"},
		{"none", NoDelimiter, "d1d2"},
		{"custom", []byte("||"), "d1||d2||"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dest := newMemDest()
				p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) { o.Delimiter = tc.delim })
				process(t, p, &fakeCheckpointer{}, recs(1, 2, nil))
				time.Sleep(time.Minute)
				synctest.Wait()
				for _, body := range dest.dataObjects() {
					if string(body) != tc.want {
						t.Errorf("object %q, want %q", body, tc.want)
					}
				}
			})
		})
	}
}

func TestShutdownWritesTheBatchAndLeaseLostDropsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		process(t, p, cp, recs(1, 2, nil))
		if err := p.ShutdownRequested(context.Background(), consumer.ShutdownRequestedInput{ShardID: testShard, Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		if len(dest.names()) != 1 || cp.last().SequenceNumber != seq(2) {
			t.Errorf("after shutdown: objects %q, checkpoint %v", dest.names(), cp.last())
		}

		dest2 := newMemDest()
		p2 := newTestProcessor(t, dest2, checkpoint.PositionTrimHorizon)
		process(t, p2, cp, recs(1, 2, nil))
		p2.LeaseLost(context.Background(), consumer.LeaseLostInput{ShardID: testShard})
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(dest2.names()) != 0 {
			t.Errorf("a lost lease wrote %q", dest2.names())
		}
	})
}

func TestShardEndedWritesTheBatchThenShardEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		process(t, p, cp, recs(1, 2, nil))
		if err := p.ShardEnded(context.Background(), consumer.ShardEndedInput{ShardID: testShard, Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		if len(dest.names()) != 1 || cp.last().SequenceNumber != seq(2) || !cp.ended {
			t.Errorf("objects %q, checkpoint %v, SHARD_END %v", dest.names(), cp.last(), cp.ended)
		}
	})
}

// A write that keeps failing holds ProcessRecords: the consumer reads no further (memory
// stays bounded), nothing is checkpointed, and once the destination recovers every
// record is written once.
func TestShardWaitsWhileWritesFail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		failing := true
		dest.setFail(func(name string, _ int) error {
			if failing && !strings.HasPrefix(name, DefaultStatePrefix) {
				return errInjected
			}
			return nil
		})
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) {
			o.BufferSize = 4
			o.MaxRetryBackoff = time.Second
		})
		returned := make(chan error, 1)
		go func() {
			returned <- p.ProcessRecords(context.Background(), consumer.ProcessRecordsInput{Records: recs(1, 3, nil), Checkpointer: cp})
		}()
		time.Sleep(time.Hour)
		synctest.Wait()
		select {
		case err := <-returned:
			t.Fatalf("ProcessRecords returned (%v) while the destination failed", err)
		default:
		}
		if len(cp.at) != 0 {
			t.Fatalf("checkpointed %v before any object was written", cp.at)
		}
		if retries := dest.tries["p/2018/08/27/10/s-"+testShard+"-"+seq(1)+"-"+seq(2)+".json"]; retries < 3600/1.5 {
			t.Errorf("%d attempts in an hour with a 1s backoff cap", retries)
		}
		dest.setFail(nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if err := <-returned; err != nil {
			t.Fatal(err)
		}
		if got := recordsIn(t, dest.dataObjects()); !slices.Equal(got, []string{"d1", "d2", "d3"}) && !slices.Equal(got, []string{"d1", "d2"}) {
			t.Errorf("records %q", got)
		}
		if cp.last().SequenceNumber != seq(2) {
			t.Errorf("checkpoint %v, want record 2", cp.last())
		}
	})
}

// A batch handed again after a failed ProcessRecords is not taken twice.
func TestRetriedBatchIsTakenOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		dest.setFail(func(name string, attempt int) error {
			if attempt == 1 && !strings.HasPrefix(name, DefaultStatePrefix) {
				return errInjected
			}
			return nil
		})
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) { o.BufferSize = 4 })
		ctx, cancel := context.WithCancel(context.Background())
		in := consumer.ProcessRecordsInput{Records: recs(1, 3, nil), Checkpointer: cp}
		done := make(chan error, 1)
		go func() { done <- p.ProcessRecords(ctx, in) }()
		synctest.Wait()
		cancel()
		if err := <-done; err == nil {
			t.Fatal("ProcessRecords succeeded though its ctx was cancelled during a failing write")
		}
		process(t, p, cp, in.Records)
		time.Sleep(time.Minute + time.Second) // the interval, and a retry of the first attempt
		synctest.Wait()
		if got := recordsIn(t, dest.dataObjects()); !slices.Equal(got, []string{"d1", "d2", "d3"}) {
			t.Errorf("records %q, want each once", got)
		}
	})
}

// The core guarantee: a worker that resumes a shard from the same checkpoint rewrites
// the same objects (same names, same bytes), whatever the timing and batch boundaries it
// sees, so no record is in two objects.
func TestRestartRewritesTheSameObjects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		opts := func(o *Options) {
			o.Prefix = "k=!{partitionKeyFromLambda:k}/"
			o.PartitionKeyFunc = func(r consumer.Record) (map[string]string, error) {
				return map[string]string{"k": []string{"even", "odd"}[len(r.Data)%2]}, nil
			}
			o.Compression = CompressionGzip
		}
		data := func(n int) string { return strings.Repeat("x", n) }
		// Worker A: records 1-3 within the interval; its batch is cut by the interval.
		// The "odd" object is written, the "even" one fails; then A crashes.
		dest.setFail(func(name string, _ int) error {
			if strings.HasPrefix(name, "k=even/") {
				return errInjected
			}
			return nil
		})
		ctxA, crashA := context.WithCancel(context.Background())
		a := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, opts)
		if err := a.ProcessRecords(ctxA, consumer.ProcessRecordsInput{Records: recs(1, 3, data), Checkpointer: &fakeCheckpointer{}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		crashA()
		a.stop()
		written := dest.dataObjects()
		if len(written) != 1 {
			t.Fatalf("worker A wrote %q, want just the odd object", dest.names())
		}
		// Worker B resumes from the same checkpoint and reads records 1-6 in one batch.
		dest.setFail(nil)
		cp := &fakeCheckpointer{}
		b := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, opts)
		process(t, b, cp, recs(1, 6, data))
		time.Sleep(time.Minute)
		synctest.Wait()
		for name, body := range written {
			if got := dest.dataObjects()[name]; string(got) != string(body) {
				t.Errorf("object %s rewritten with other bytes", name)
			}
		}
		got := recordsIn(t, gunzipAll(t, dest.dataObjects()))
		want := recordsIn(t, map[string][]byte{"": []byte("x\nxx\nxxx\nxxxx\nxxxxx\nxxxxxx\n")})
		if !slices.Equal(got, want) {
			t.Errorf("records %q, want each of 1-6 once; objects %q", got, dest.names())
		}
		if len(cp.at) != 2 || cp.at[0].SequenceNumber != seq(3) || cp.at[1].SequenceNumber != seq(6) {
			t.Errorf("checkpoints %v, want record 3 (A's batch, again) then 6", cp.at)
		}
	})
}

// A worker that took the lease from one still running follows the cut the other wrote
// after it started.
func TestFollowsACutAnotherWorkerMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		b := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		process(t, b, cp, recs(1, 5, nil))
		// The old owner, still running, writes its state and the object of records 1-2.
		s := b.s
		if err := s.writeIntent(context.Background(), testShard, intent{
			Start: toPosition(checkpoint.PositionTrimHorizon), First: position{Seq: seq(1)}, Last: position{Seq: seq(2)},
		}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []string{
			"p/2018/08/27/10/s-" + testShard + "-" + seq(1) + "-" + seq(2) + ".json",
		}
		if names := dest.names(); !slices.Equal(names, want) {
			t.Fatalf("objects %q, want %q", names, want)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := recordsIn(t, dest.dataObjects()); len(got) != 5 {
			t.Errorf("records %q, want 1-5 once", got)
		}
	})
}

func TestInvalidOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func(*Options)
		want string
	}{
		{"no stream", func(o *Options) { o.StreamName = "" }, "StreamName"},
		{"error type in prefix", func(o *Options) { o.Prefix = "!{firehose:error-output-type}/" }, "error-output-type"},
		{"error prefix without type", func(o *Options) { o.ErrorOutputPrefix = "e/!{timestamp:yyyy}/" }, "error-output-type"},
		{"unknown query key", func(o *Options) { o.Prefix = "!{partitionKeyFromQuery:x}/" }, "PartitionKeyQueries"},
		{"no key func", func(o *Options) { o.Prefix = "!{partitionKeyFromLambda:x}/" }, "PartitionKeyFunc"},
		{"week year", func(o *Options) { o.Prefix = "!{timestamp:YYYY}/" }, "week-based"},
		{"bad compression", func(o *Options) { o.Compression = "lz4" }, "Compression"},
		{"negative size", func(o *Options) { o.BufferSize = -1 }, "BufferSize"},
		{"bad query", func(o *Options) { o.PartitionKeyQueries = map[string]string{"a": "a"} }, ".customer_id"},
		{"unknown namespace", func(o *Options) { o.Prefix = "!{foo:bar}" }, "unknown namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(newMemDest(), func(o *Options) { o.StreamName = "s" }, tc.fn)
			if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %v, want ErrInvalidOptions mentioning %q", err, tc.want)
			}
			p := New(newMemDest(), func(o *Options) { o.StreamName = "s" }, tc.fn)("shard")
			if err := p.Initialize(context.Background(), consumer.InitializeInput{}); !errors.Is(err, ErrInvalidOptions) {
				t.Errorf("Initialize: %v, want ErrInvalidOptions", err)
			}
		})
	}
}

// A worker that lost the shard without knowing it yet must not write a batch once the
// new owner checkpointed past it.
func TestStaleWorkerDoesNotWriteBehindTheNewOwner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		stale := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		process(t, stale, cp, recs(1, 3, nil))
		if err := stale.s.writeIntent(context.Background(), testShard, intent{
			Start: position{Seq: seq(2)}, First: position{Seq: seq(3)}, Last: position{Seq: seq(3)},
		}, ""); err != nil {
			t.Fatal(err)
		}
		err := stale.ShutdownRequested(context.Background(), consumer.ShutdownRequestedInput{Checkpointer: cp})
		if !errors.Is(err, consumer.ErrLeaseLost) {
			t.Errorf("ShutdownRequested: %v, want ErrLeaseLost", err)
		}
		if names := dest.names(); len(names) != 0 || len(cp.at) != 0 {
			t.Errorf("the stale worker wrote %q, checkpointed %v", names, cp.at)
		}
	})
}

// Records arriving at irregular times, sometimes fast enough to fill the buffer: each is
// in its object at most BufferInterval after it was handed to the sink (Firehose allows
// itself 1.5 times its interval). The writes take no time here, so this measures the
// buffering alone.
func TestEveryRecordIsWrittenWithinOneInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		cp := &fakeCheckpointer{}
		p := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon, func(o *Options) { o.BufferSize = 300 })
		handed := map[string]time.Time{}
		rng := rand.New(rand.NewPCG(1, 2))
		n := 0
		for range 400 {
			k := 1 + rng.IntN(20)
			rs := recs(n+1, n+k, nil)
			n += k
			for _, r := range rs {
				handed[string(r.Data)] = time.Now()
			}
			process(t, p, cp, rs)
			time.Sleep(time.Duration(rng.IntN(30_000)) * time.Millisecond)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		var worst time.Duration
		for name, body := range dest.dataObjects() {
			for _, line := range strings.Fields(string(body)) {
				worst = max(worst, dest.putAt[name].Sub(handed[line]))
			}
		}
		if got := len(recordsIn(t, dest.dataObjects())); got != n {
			t.Fatalf("%d records written, want %d", got, n)
		}
		t.Logf("%d records in %d objects; longest wait %v", n, len(dest.names()), worst)
		if worst > time.Minute {
			t.Errorf("a record waited %v, more than the 1m interval", worst)
		}
	})
}

// The interval goroutine of a worker that lost the shard does not retry in a loop
// while it waits for LeaseLost.
func TestStaleWorkerRetriesAtMostOncePerBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dest := newMemDest()
		stale := newTestProcessor(t, dest, checkpoint.PositionTrimHorizon)
		process(t, stale, &fakeCheckpointer{}, recs(1, 3, nil))
		if err := stale.s.writeIntent(context.Background(), testShard, intent{
			Start: position{Seq: seq(2)}, First: position{Seq: seq(3)}, Last: position{Seq: seq(3)},
		}, ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if dest.gets > int(time.Hour/DefaultMaxRetryBackoff)+2 {
			t.Errorf("%d reads of the state in an hour, want at most one per %v", dest.gets, DefaultMaxRetryBackoff)
		}
		if len(dest.names()) != 0 {
			t.Errorf("wrote %q", dest.names())
		}
	})
}
