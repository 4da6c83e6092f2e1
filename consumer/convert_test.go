package consumer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
)

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

func TestRestartInsideAnAggregateResumesAtTheNextSubsequence(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 1)
	restartInsideAggregate(t, env.Kinesis(), stream, newStore(t, env), testOptions)
}
