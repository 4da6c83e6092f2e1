package consumer

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/kinesistest"
)

func TestInitialPositionLatestSkipsWhatWasPutBefore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 2)
		putRecords(t, fake, stream, 4, 20, "old")
		reading := make(chan struct{})
		var once sync.Once
		var reads atomic.Int32
		fake.Control(kinesistest.OpGetRecords, func(*kinesistest.Call) (any, error, bool) {
			if reads.Add(1) == 2 { // both shards have their LATEST iterator
				once.Do(func() { close(reading) })
			}
			return nil, nil, false
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
	})
}

func TestInitialPositionAtTimestamp(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fake := kinesistest.NewServer(t, func(o *kinesistest.Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	}).Kinesis()
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
