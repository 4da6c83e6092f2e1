package consumer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/kinesisfake"
)

// newFakeStream returns an in-memory Kinesis with one stream of the given shard count.
func newFakeStream(t testing.TB, shards int32) (*kinesisfake.Kinesis, string) {
	t.Helper()
	fake := kinesisfake.New()
	if _, err := fake.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatal(err)
	}
	return fake, "s"
}

// fastOptions are settings for unit tests against the fake and the Memory store.
func fastOptions(t testing.TB, worker string, extra ...func(*Options)) []func(*Options) {
	return testOptions(t, worker, append([]func(*Options){func(o *Options) {
		o.FailoverTime = time.Second
		o.IdleTimeBetweenReads = 20 * time.Millisecond
		o.ParentShardPollInterval = 50 * time.Millisecond
		o.MaxRetryBackoff = 50 * time.Millisecond
	}}, extra...)...)
}

func TestProcessorErrorsAndPanicsRetryTheSameBatch(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	want := putRecords(t, fake, stream, 8, 200, "a")
	r := newRecorder()
	var attempts atomic.Int32
	var mu sync.Mutex
	firstOfAttempt := map[string][]string{} // shard -> first record of each failed attempt
	r.fail = func(shard string, recs []Record) error {
		if shard != "shardId-000000000001" {
			return nil
		}
		n := attempts.Add(1)
		mu.Lock()
		firstOfAttempt[shard] = append(firstOfAttempt[shard], string(recs[0].Data))
		mu.Unlock()
		switch n {
		case 1:
			return errors.New("database down")
		case 2:
			panic("processor bug")
		}
		return nil
	}
	c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "all records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	mu.Lock()
	defer mu.Unlock()
	got := firstOfAttempt["shardId-000000000001"]
	if len(got) < 3 || got[0] != got[1] || got[1] != got[2] {
		t.Errorf("the failed batch was not passed again unchanged: first records of the attempts %v", got)
	}
	if r.total() != len(want) {
		t.Errorf("%d deliveries of %d records", r.total(), len(want))
	}
}

func TestPanicErrorCarriesTheStack(t *testing.T) {
	s := &shard{}
	err := s.call("ProcessRecords", func() error { panic(errors.New("boom")) })
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Method != "ProcessRecords" || !strings.Contains(string(pe.Stack), "TestPanicErrorCarriesTheStack") {
		t.Fatalf("got %#v", err)
	}
	if err.Error() == "" || errors.Unwrap(err) == nil || errors.Unwrap(err).Error() != "boom" {
		t.Errorf("Unwrap does not return the panic's error: %v", errors.Unwrap(err))
	}
}

// scriptedProcessor runs a function for each lifecycle call.
type scriptedProcessor struct {
	init     func(ctx context.Context, in InitializeInput) error
	process  func(ctx context.Context, in ProcessRecordsInput) error
	lost     func(ctx context.Context, in LeaseLostInput)
	ended    func(ctx context.Context, in ShardEndedInput) error
	shutdown func(ctx context.Context, in ShutdownRequestedInput) error
}

func (p *scriptedProcessor) Initialize(ctx context.Context, in InitializeInput) error {
	if p.init != nil {
		return p.init(ctx, in)
	}
	return nil
}
func (p *scriptedProcessor) ProcessRecords(ctx context.Context, in ProcessRecordsInput) error {
	if p.process != nil {
		return p.process(ctx, in)
	}
	return nil
}
func (p *scriptedProcessor) LeaseLost(ctx context.Context, in LeaseLostInput) {
	if p.lost != nil {
		p.lost(ctx, in)
	}
}
func (p *scriptedProcessor) ShardEnded(ctx context.Context, in ShardEndedInput) error {
	if p.ended != nil {
		return p.ended(ctx, in)
	}
	return nil
}
func (p *scriptedProcessor) ShutdownRequested(ctx context.Context, in ShutdownRequestedInput) error {
	if p.shutdown != nil {
		return p.shutdown(ctx, in)
	}
	return nil
}

func TestCheckpointAtAcceptsOnlyPositionsBetweenLastCheckpointAndLastDelivered(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	putRecords(t, fake, stream, 1, 10, "a")
	store := checkpoint.NewMemory()
	results := make(chan []error, 1)
	proc := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		if len(in.Records) != 10 {
			return fmt.Errorf("want the 10 records in one batch, got %d", len(in.Records))
		}
		cp := in.Checkpointer
		r3, r5, last := in.Records[3], in.Records[5], in.Records[9]
		beyond := checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: 1}
		results <- []error{
			cp.CheckpointAt(ctx, beyond.SequenceNumber, beyond.SubSequenceNumber), // after the last delivered
			cp.CheckpointAt(ctx, "not-a-number", 0),
			cp.CheckpointAt(ctx, checkpoint.TrimHorizon, 0),
			cp.CheckpointAt(ctx, checkpoint.ShardEnd, 0), // the shard has not ended
			cp.CheckpointAt(ctx, r5.SequenceNumber, 0),   // ok
			cp.CheckpointAt(ctx, r3.SequenceNumber, 0),   // before the last checkpoint
			cp.CheckpointAt(ctx, r5.SequenceNumber, 0),   // same again: nothing to do
			cp.Checkpoint(ctx), // the last record
		}
		return nil
	}}
	c, err := New(fake, stream, store, func(string) RecordProcessor { return proc }, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	var errs []error
	select {
	case errs = <-results:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	stop()
	for i, want := range []error{ErrInvalidCheckpoint, ErrInvalidCheckpoint, ErrInvalidCheckpoint, ErrInvalidCheckpoint, nil, ErrInvalidCheckpoint, nil, nil} {
		if want == nil && errs[i] != nil || want != nil && !errors.Is(errs[i], want) {
			t.Errorf("call %d: got %v, want %v", i, errs[i], want)
		}
	}
	l, err := store.GetLease(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	recs := fake.Records(stream, "shardId-000000000000")
	if want := aws.ToString(recs[9].SequenceNumber); l.Checkpoint.SequenceNumber != want {
		t.Errorf("checkpoint %s, want the last record %s", l.Checkpoint, want)
	}
}

func TestLostLeaseCancelsProcessingAndFencesTheCheckpointer(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	putRecords(t, fake, stream, 1, 5, "a")
	store := checkpoint.NewMemory()
	inBatch := make(chan Checkpointer, 1)
	cancelled := make(chan struct{})
	lost := make(chan struct{})
	var calls atomic.Int32
	newProc := func(string) RecordProcessor {
		return &scriptedProcessor{
			process: func(ctx context.Context, in ProcessRecordsInput) error {
				if calls.Add(1) > 1 {
					return nil
				}
				inBatch <- in.Checkpointer
				<-ctx.Done() // a slow batch: it must be interrupted
				close(cancelled)
				return ctx.Err()
			},
			lost: func(ctx context.Context, in LeaseLostInput) { close(lost) },
		}
	}
	c, err := New(fake, stream, store, newProc, fastOptions(t, "w1", func(o *Options) { o.FailoverTime = 30 * time.Second })...)
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	var cp Checkpointer
	select {
	case cp = <-inBatch:
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	// Another worker takes the lease; w1 learns it at its next renewal (FailoverTime/3).
	l, err := store.GetLease(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.TakeLease(context.Background(), l, "thief"); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan struct{}{cancelled, lost} {
		select {
		case <-ch:
		case <-time.After(20 * time.Second):
			t.Fatal("the lease loss was not noticed within a renewal interval")
		}
	}
	if err := cp.Checkpoint(context.Background()); !errors.Is(err, ErrLeaseLost) {
		t.Errorf("Checkpoint after the loss: %v, want ErrLeaseLost", err)
	}
	if l, _ := store.GetLease(context.Background(), "shardId-000000000000"); l.Owner != "thief" || l.Checkpoint != checkpoint.PositionTrimHorizon {
		t.Errorf("lease after the loss: owner %q checkpoint %s", l.Owner, l.Checkpoint)
	}
}

func TestGetRecordsThrottlingAndExpiredIteratorsLoseNothing(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	want := putRecords(t, fake, stream, 8, 120, "a")
	var n atomic.Int32
	fake.SetGetRecordsHook(func(ctx context.Context, in *kinesis.GetRecordsInput) error {
		switch n.Add(1) % 5 {
		case 1:
			return &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded for shard")}
		case 3:
			return &types.ExpiredIteratorException{Message: aws.String("Iterator expired")}
		}
		return nil
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
	if fake.Stats().Calls[kinesisfake.OpGetShardIterator] < 3 {
		t.Errorf("expired iterators were not replaced: %d GetShardIterator calls", fake.Stats().Calls[kinesisfake.OpGetShardIterator])
	}
}

// aggregate returns one KPL aggregated record holding recs.
func aggregate(t testing.TB, recs []aggregation.UserRecord) types.PutRecordsRequestEntry {
	t.Helper()
	a := aggregation.NewAggregator(1<<20, 1000)
	for _, r := range recs {
		if !a.Add(r) {
			t.Fatal("aggregate full")
		}
	}
	kr, _ := a.Drain()
	e := types.PutRecordsRequestEntry{PartitionKey: aws.String(kr.PartitionKey), Data: kr.Data}
	if kr.ExplicitHashKey != "" {
		e.ExplicitHashKey = aws.String(kr.ExplicitHashKey)
	}
	return e
}

func TestAggregatedRecordsAreDeaggregatedAndFilteredByHashRange(t *testing.T) {
	fake, stream := newFakeStream(t, 2) // shard 0: hash keys below 2^127, shard 1: the rest
	lowEHK, highEHK := "1", "200000000000000000000000000000000000000"
	var subs []aggregation.UserRecord
	for i := range 6 {
		ehk := lowEHK
		if i%2 == 1 {
			ehk = highEHK // belongs to shard 1: dropped when read from shard 0
		}
		subs = append(subs, aggregation.UserRecord{PartitionKey: fmt.Sprintf("pk%d", i), ExplicitHashKey: ehk, Data: []byte(fmt.Sprintf("agg/%d", i))})
	}
	e := aggregate(t, subs)
	e.ExplicitHashKey = aws.String(lowEHK) // the aggregate lands on shard 0
	plain := types.PutRecordsRequestEntry{PartitionKey: aws.String("plain"), ExplicitHashKey: aws.String(lowEHK), Data: []byte("plain/0")}
	if _, err := fake.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: []types.PutRecordsRequestEntry{e, plain}}); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= 4 })
	stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []string
	for _, d := range r.deliveries {
		got = append(got, fmt.Sprintf("%s#%d pk=%s ehk=%s", d.rec.Data, d.rec.SubSequenceNumber, d.rec.PartitionKey, d.rec.ExplicitHashKey))
	}
	want := []string{
		"agg/0#0 pk=pk0 ehk=1", "agg/2#2 pk=pk2 ehk=1", "agg/4#4 pk=pk4 ehk=1",
		"plain/0#0 pk=plain ehk=",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if r.deliveries[0].rec.SequenceNumber != r.deliveries[2].rec.SequenceNumber || r.deliveries[0].rec.SequenceNumber == r.deliveries[3].rec.SequenceNumber {
		t.Error("sub-records do not share their Kinesis record's sequence number")
	}
}

func TestRestartInsideAnAggregateResumesAtTheNextSubsequenceInMemory(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	restartInsideAggregate(t, fake, stream, checkpoint.NewMemory(), fastOptions)
}

// restartInsideAggregate checkpoints in the middle of an aggregated record, restarts with
// another worker and checks it resumes at the next sub-record, without re-delivering any
// checkpointed one.
func restartInsideAggregate(t *testing.T, k interface {
	Client
	putter
}, stream string, store checkpoint.Store, opts func(t testing.TB, worker string, extra ...func(*Options)) []func(*Options)) {
	var subs []aggregation.UserRecord
	for i := range 10 {
		subs = append(subs, aggregation.UserRecord{PartitionKey: "pk", Data: []byte(fmt.Sprintf("agg/%d", i))})
	}
	entries := []types.PutRecordsRequestEntry{aggregate(t, subs), {PartitionKey: aws.String("pk"), Data: []byte("after/0")}}
	if _, err := k.PutRecords(context.Background(), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries}); err != nil {
		t.Fatal(err)
	}
	// First run: checkpoint at sub-record 4, then stop.
	done := make(chan struct{})
	var once sync.Once
	first := &scriptedProcessor{process: func(ctx context.Context, in ProcessRecordsInput) error {
		r4 := in.Records[4]
		if err := in.Checkpointer.CheckpointAt(ctx, r4.SequenceNumber, r4.SubSequenceNumber); err != nil {
			return err
		}
		once.Do(func() { close(done) })
		<-ctx.Done()
		return ctx.Err()
	}}
	c1, err := New(k, stream, store, func(string) RecordProcessor { return first }, opts(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c1)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("no batch")
	}
	stop()
	l, _ := store.GetLease(context.Background(), "shardId-000000000000")
	if l.Checkpoint.SubSequenceNumber != 4 || l.Owner != "" {
		t.Fatalf("after the first run: checkpoint %s owner %q", l.Checkpoint, l.Owner)
	}

	r := newRecorder()
	c2, err := New(k, stream, store, r.factory("w2"), opts(t, "w2")...)
	if err != nil {
		t.Fatal(err)
	}
	stop = runConsumer(t, c2)
	r.waitFor(t, 30*time.Second, "the rest", func() bool { return r.distinct() >= 6 })
	stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	var got []string
	for _, d := range r.deliveries {
		got = append(got, string(d.rec.Data))
	}
	if want := "agg/5 agg/6 agg/7 agg/8 agg/9 after/0"; strings.Join(got, " ") != want {
		t.Errorf("second run got %s, want %s", strings.Join(got, " "), want)
	}
}

func TestShardEndIsCheckpointedWhenTheProcessorForgets(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	want := putRecords(t, fake, stream, 8, 100, "a")
	store := checkpoint.NewMemory()
	r := newRecorder()
	var ended atomic.Int32
	newProc := func(shard string) RecordProcessor {
		tp := r.factory("w1")(shard).(*testProcessor)
		return &scriptedProcessor{
			init:    tp.Initialize,
			process: tp.ProcessRecords,
			ended: func(ctx context.Context, in ShardEndedInput) error {
				ended.Add(1)
				r.event("ended %s children=%v", in.ShardID, in.ChildShardIDs)
				return nil // forgets to checkpoint
			},
		}
	}
	c, err := New(fake, stream, store, newProc, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
	if _, err := fake.SplitShard(context.Background(), &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: aws.String("shardId-000000000000"),
		NewStartingHashKey: aws.String("170141183460469231731687303715884105728")}); err != nil {
		t.Fatal(err)
	}
	want = append(want, putRecords(t, fake, stream, 8, 100, "b")...)
	r.waitFor(t, 10*time.Second, "records after the split", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	l, err := store.GetLease(context.Background(), "shardId-000000000000")
	if err != nil {
		t.Fatal(err)
	}
	if !l.Checkpoint.IsShardEnd() || l.Owner != "" || strings.Join(l.ChildShardIDs, ",") != "shardId-000000000001,shardId-000000000002" {
		t.Errorf("parent lease after its end: %+v", l)
	}
	if ended.Load() != 1 {
		t.Errorf("ShardEnded called %d times", ended.Load())
	}
	for _, child := range []string{"shardId-000000000001", "shardId-000000000002"} {
		cl, err := store.GetLease(context.Background(), child)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(cl.ParentShardIDs, ",") != "shardId-000000000000" || cl.StartingHashKey == "" {
			t.Errorf("child lease %+v", cl)
		}
	}
}

func TestNewFuncCheckpointsAcceptedBatches(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	want := putRecords(t, fake, stream, 4, 40, "a")
	store := checkpoint.NewMemory()
	r := newRecorder()
	var failed atomic.Bool
	fn := func(ctx context.Context, shardID string, records []Record) error {
		if failed.CompareAndSwap(false, true) {
			return errors.New("not now")
		}
		r.add("w1", shardID, records)
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
	leases, _ := store.ListLeases(context.Background())
	for _, l := range leases {
		recs := fake.Records(stream, l.Key)
		if last := aws.ToString(recs[len(recs)-1].SequenceNumber); l.Checkpoint.SequenceNumber != last {
			t.Errorf("%s checkpoint %s, want %s", l.Key, l.Checkpoint, last)
		}
	}
}

func TestNewValidatesItsArguments(t *testing.T) {
	fake, _ := newFakeStream(t, 1)
	store := checkpoint.NewMemory()
	proc := NewFunc(func(context.Context, string, []Record) error { return nil })
	for name, call := range map[string]func() (*Consumer, error){
		"nil client":    func() (*Consumer, error) { return New(nil, "s", store, proc) },
		"empty stream":  func() (*Consumer, error) { return New(fake, "", store, proc) },
		"nil store":     func() (*Consumer, error) { return New(fake, "s", nil, proc) },
		"nil processor": func() (*Consumer, error) { return New(fake, "s", store, nil) },
		"negative failover": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.FailoverTime = -1 })
		},
		"tiny failover": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.FailoverTime = time.Millisecond })
		},
		"max records": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxRecords = 10001 })
		},
		"bad position": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.InitialPosition = "OLDEST" })
		},
		"timestamp missing": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.InitialPosition = InitialPositionAtTimestamp })
		},
		"negative prefetch": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxPrefetchBatches = -1 })
		},
		"negative max": func() (*Consumer, error) {
			return New(fake, "s", store, proc, func(o *Options) { o.MaxLeasesForWorker = -1 })
		},
	} {
		if _, err := call(); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%s: got %v, want ErrInvalidOptions", name, err)
		}
	}
	c, err := New(fake, "s", store, proc)
	if err != nil {
		t.Fatal(err)
	}
	o := c.opts
	if o.FailoverTime != 10*time.Second || o.LeaseTakeInterval != time.Second || o.MaxRecords != 10000 || o.InitialPosition != InitialPositionLatest ||
		o.ShardSyncInterval != time.Minute || o.MaxPrefetchBatches != 3 || o.ApplicationName != "s" || !strings.Contains(o.WorkerID, "-") {
		t.Errorf("defaults: %+v", o)
	}
}

func TestRunFailsFastWhenTheStreamDoesNotExist(t *testing.T) {
	fake := kinesisfake.New()
	c, err := New(fake, "missing", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("Run: %v, want ErrStreamNotFound", err)
	}
}

func TestRunTwiceAtOnceIsRefused(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	started := make(chan struct{})
	var once sync.Once
	proc := &scriptedProcessor{init: func(context.Context, InitializeInput) error { once.Do(func() { close(started) }); return nil }}
	c, err := New(fake, stream, checkpoint.NewMemory(), func(string) RecordProcessor { return proc }, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	<-started // the first Run is processing
	if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run: %v", err)
	}
	stop()
}

func TestLeaseOfATrimmedShardIsEndedSoItsChildrenStart(t *testing.T) {
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
}

func TestRunReportsTheDeniedKinesisAction(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	fake.SetCallHook(func(ctx context.Context, op kinesisfake.Op, in any) error {
		if op == kinesisfake.OpListShards {
			return &types.AccessDeniedException{Message: aws.String("User: arn:aws:iam::1:user/x is not authorized to perform: kinesis:ListShards")}
		}
		return nil
	})
	c, err := New(fake, stream, checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background())
	var ade *AccessDeniedError
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &ade) || ade.Action != "kinesis:ListShards" || !strings.Contains(err.Error(), "kinesis:ListShards") {
		t.Errorf("Run: %v", err)
	}
}

func TestInitialPositionLatestSkipsWhatWasPutBefore(t *testing.T) {
	fake, stream := newFakeStream(t, 2)
	putRecords(t, fake, stream, 4, 20, "old")
	reading := make(chan struct{})
	var once sync.Once
	var reads atomic.Int32
	fake.SetGetRecordsHook(func(ctx context.Context, in *kinesis.GetRecordsInput) error {
		if reads.Add(1) == 2 { // both shards have their LATEST iterator
			once.Do(func() { close(reading) })
		}
		return nil
	})
	r := newRecorder()
	c, err := New(fake, stream, checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1", func(o *Options) { o.InitialPosition = InitialPositionLatest })...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	<-reading
	want := putRecords(t, fake, stream, 4, 20, "new")
	r.waitFor(t, 10*time.Second, "the new records", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want) // fails on any "old" record too
}

func TestInitialPositionAtTimestamp(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := kinesisfake.New(func(o *kinesisfake.Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	if _, err := fake.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	putRecords(t, fake, "s", 4, 20, "before")
	mu.Lock()
	now = now.Add(time.Minute)
	start := now
	mu.Unlock()
	want := putRecords(t, fake, "s", 4, 20, "after")
	r := newRecorder()
	c, err := New(fake, "s", checkpoint.NewMemory(), r.factory("w1"), fastOptions(t, "w1", func(o *Options) {
		o.InitialPosition = InitialPositionAtTimestamp
		o.InitialTimestamp = start
	})...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	r.waitFor(t, 10*time.Second, "the records after the timestamp", func() bool { return r.distinct() >= len(want) })
	stop()
	r.checkComplete(t, want)
}

// A batch fn accepts while the worker shuts down (so its ctx is cancelled and the
// checkpoint right after fails) is checkpointed by the graceful shutdown.
func TestNewFuncCheckpointsTheLastBatchAtShutdown(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	putRecords(t, fake, stream, 1, 10, "a")
	store := checkpoint.NewMemory()
	ctx, cancel := context.WithCancel(context.Background())
	var last atomic.Pointer[Record]
	fn := func(fctx context.Context, _ string, records []Record) error {
		if last.Load() == nil {
			last.Store(&records[len(records)-1])
			cancel() // shut down now: fctx ends before the checkpoint
			<-fctx.Done()
		}
		return nil
	}
	c, err := New(fake, stream, store, NewFunc(fn), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(ctx); err != nil {
		t.Fatal(err)
	}
	leases, err := store.ListLeases(context.Background())
	if err != nil || len(leases) != 1 {
		t.Fatalf("leases %v, %v", leases, err)
	}
	want := last.Load()
	if want == nil {
		t.Fatal("fn was not called")
	}
	if got := leases[0].Checkpoint; got.SequenceNumber != want.SequenceNumber || got.SubSequenceNumber != want.SubSequenceNumber {
		t.Errorf("checkpoint %v, want the batch's last record %s/%d", got, want.SequenceNumber, want.SubSequenceNumber)
	}
}
