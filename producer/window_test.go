package producer

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowLink is a Kinesis endpoint behind a link of a fixed throughput: calls queue on
// it in order, and each is written when its last byte arrived, whether or not the
// caller still waits (so a call that timed out was written anyway, like on AWS).
type slowLink struct {
	*fakeKinesis
	perSecond float64

	mu        sync.Mutex
	busyUntil time.Time
}

func (l *slowLink) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, o ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	size := 0
	for _, e := range in.Records {
		size += len(e.Data) + len(*e.PartitionKey)
	}
	l.mu.Lock()
	now := time.Now()
	done := later(now, l.busyUntil).Add(time.Duration(float64(size) / l.perSecond * float64(time.Second)))
	l.busyUntil = done
	l.mu.Unlock()
	time.Sleep(time.Until(done))
	out, err := l.fakeKinesis.PutRecords(context.WithoutCancel(ctx), in, o...)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("operation error Kinesis: PutRecords: %w", ctx.Err())
	}
	return out, err
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// succeededAfterTimeouts checks that every result succeeded and counts the timed-out
// attempts, once per user record that an attempt carried.
func succeededAfterTimeouts(t *testing.T, out []outcome) int {
	t.Helper()
	timeouts := 0
	for i, o := range out {
		require.NoError(t, o.err, "record %d", i)
		for _, a := range o.res.Attempts {
			if a.ErrorCode == "Timeout" {
				timeouts++
			}
		}
	}
	return timeouts
}

// duplicates counts the distinct values of data and the copies beyond the first.
func duplicates(data []string) (distinct, dups int) {
	seen := make(map[string]int)
	for _, d := range data {
		seen[d]++
	}
	return len(seen), len(data) - len(seen)
}

// A burst far above what the endpoint takes within RequestTimeout must not time calls
// out (each timed-out call is retried and its aggregates written twice): the producer
// sizes and paces its calls to the throughput it observes.
func TestBurstOnASlowLinkDoesNotTimeOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeKinesis("s", 4)
		link := &slowLink{fakeKinesis: f, perSecond: 500e3} // 500 kB/s: kinesis-mock on a busy machine
		p, err := New(link, "s", quiet)
		require.NoError(t, err)
		const n = 50000 // about 6 MB: 12 s of the link
		c := newCollector()
		pad := strings.Repeat("x", 100)
		for i := range n {
			require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: []byte(fmt.Sprintf("%06d-%s", i, pad))}, c.done(i)))
		}
		require.NoError(t, p.Close(context.Background()))
		timeouts := succeededAfterTimeouts(t, c.exactlyOnce(t, n))
		var data []string
		for _, w := range f.written() {
			data = append(data, w.data)
		}
		distinct, dups := duplicates(data)
		assert.Equal(t, n, distinct)
		assert.Zero(t, timeouts, "timed-out attempts")
		assert.Zero(t, dups, "duplicates")
	})
}
