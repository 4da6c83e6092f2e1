package producer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

// quiet discards the producer's logs in tests that provoke warnings on purpose.
func quiet(o *Options) { o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil)) }

// outcome is one callback call.
type outcome struct {
	res Result
	err error
}

// collector records every callback, so that tests can check each record got exactly
// one result.
type collector struct {
	mu    sync.Mutex
	got   map[int][]outcome
	order []int         // indexes in callback order
	more  chan struct{} // closed (and replaced) on each result
	all   sync.WaitGroup
}

func newCollector() *collector {
	return &collector{got: make(map[int][]outcome), more: make(chan struct{})}
}

// done returns the callback of record i.
func (c *collector) done(i int) func(Result, error) {
	c.all.Add(1)
	return func(r Result, err error) {
		c.mu.Lock()
		c.got[i] = append(c.got[i], outcome{r, err})
		c.order = append(c.order, i)
		first := len(c.got[i]) == 1
		close(c.more)
		c.more = make(chan struct{})
		c.mu.Unlock()
		if first {
			c.all.Done()
		}
	}
}

// waitFor waits until at least n records have a result; it reports a failure (but
// does not stop the test, so that other goroutines may call it) after 10 s (of the
// bubble's fake time in a testing/synctest test).
func (c *collector) waitFor(t *testing.T, n int) bool {
	t.Helper()
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for {
		c.mu.Lock()
		got, more := len(c.got), c.more
		c.mu.Unlock()
		if got >= n {
			return true
		}
		select {
		case <-more:
		case <-timeout.C:
			t.Errorf("%d results after 10 s, want %d", got, n)
			return false
		}
	}
}

// exactlyOnce checks that records 0..n-1 got exactly one result each and returns them.
func (c *collector) exactlyOnce(t *testing.T, n int) []outcome {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]outcome, n)
	for i := range n {
		got := c.got[i]
		if !assert.Len(t, got, 1, "record %d results", i) {
			continue
		}
		out[i] = got[0]
	}
	assert.Len(t, c.got, n, "records with results")
	return out
}

func testKey(i int) string { return fmt.Sprintf("key-%04d", i%1000) }

func testData(i int) []byte {
	return []byte(fmt.Sprintf("record-%06d-%s", i, strings.Repeat("x", i%50)))
}

// checkWritten checks that the stream holds exactly the n test records, once each
// unless allowDup says otherwise, each on the shard its hash key maps to, and no
// sub-record outside its shard's range.
func checkWritten(t *testing.T, f *fakeKinesis, n int, allowDup func(i int) bool) {
	t.Helper()
	seen := make(map[string]int)
	for _, w := range f.written() {
		if w.outOfRange {
			continue // consumers drop it; it must exist in range too (checked below)
		}
		seen[w.data]++
	}
	for i := range n {
		c := seen[string(testData(i))]
		if c == 0 {
			t.Errorf("record %d was not written in its shard's range", i)
		}
		if c > 1 && (allowDup == nil || !allowDup(i)) {
			t.Errorf("record %d was written %d times", i, c)
		}
		delete(seen, string(testData(i)))
	}
	assert.Empty(t, seen, "records written that were never put")
}

// assertFromArrival checks, in a testing/synctest bubble, that elapsed since a Put is
// d since the record's arrival, where its linger and TTL start: the router takes a
// record at its Put, or up to pokeDelay later when it was idle.
func assertFromArrival(t *testing.T, d, elapsed time.Duration, msgAndArgs ...any) {
	t.Helper()
	assert.GreaterOrEqual(t, elapsed, d, msgAndArgs...)
	assert.LessOrEqual(t, elapsed, d+pokeDelay, msgAndArgs...)
}

func newTestProducer(t *testing.T, f Client, optFns ...func(*Options)) *Producer {
	t.Helper()
	stream := "s"
	if fk, ok := f.(*fakeKinesis); ok {
		stream = fk.stream
	}
	p, err := New(f, stream, optFns...)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

func TestPutWritesEveryRecordToItsShard(t *testing.T) {
	for _, agg := range []bool{true, false} {
		t.Run(fmt.Sprintf("aggregation=%v", agg), func(t *testing.T) {
			f := newFakeKinesis("s", 4)
			p := newTestProducer(t, f, func(o *Options) { o.DisableAggregation = !agg })
			c := newCollector()
			const n = 5000
			for i := range n {
				require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
			}
			require.NoError(t, p.Flush(context.Background()))
			out := c.exactlyOnce(t, n)
			for i, o := range out {
				require.NoError(t, o.err, "record %d", i)
				assert.NotEmpty(t, o.res.SequenceNumber)
				assert.Len(t, o.res.Attempts, 1)
				if !agg {
					assert.False(t, o.res.Aggregated)
				}
			}
			checkWritten(t, f, n, nil)
			// The result names the shard and position the record is at.
			byPos := make(map[string]string)
			for _, w := range f.written() {
				byPos[fmt.Sprintf("%s/%s/%d", w.shard, w.seq, w.sub)] = w.data
			}
			for i, o := range out {
				pos := fmt.Sprintf("%s/%s/%d", o.res.ShardID, o.res.SequenceNumber, o.res.SubSequenceNumber)
				assert.Equal(t, string(testData(i)), byPos[pos], "record %d at %s", i, pos)
			}
			st := p.Stats()
			assert.EqualValues(t, n, st.UserRecordsReceived)
			assert.EqualValues(t, n, st.UserRecordsPut)
			assert.EqualValues(t, 0, st.UserRecordsPending)
			assert.Len(t, st.Shards, 4)
			if agg {
				assert.Less(t, st.KinesisRecordsPut, int64(n/10), "records should be aggregated")
			} else {
				assert.EqualValues(t, n, st.KinesisRecordsPut)
			}
		})
	}
}

func TestAggregatesOnlyRecordsOfTheSameShard(t *testing.T) {
	f := newFakeKinesis("s", 8)
	p := newTestProducer(t, f)
	for i := range 2000 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, nil))
	}
	require.NoError(t, p.Flush(context.Background()))
	for _, w := range f.written() {
		assert.False(t, w.outOfRange, "sub-record %s/%d outside shard %s", w.seq, w.sub, w.shard)
	}
}

// TestExplicitHashKeyRoutes runs in a testing/synctest bubble: PutSync waits for the linger in fake time.
func TestExplicitHashKeyRoutes(t *testing.T) { synctest.Test(t, testExplicitHashKeyRoutes) }

func testExplicitHashKeyRoutes(t *testing.T) {
	f := newFakeKinesis("s", 4)
	p := newTestProducer(t, f)
	// One key, but explicit hash keys spread over every shard.
	for i := range 4 {
		ehk := aggregation.Hash128{Hi: uint64(i) << 62}.String()
		res, err := p.PutSync(context.Background(), Record{PartitionKey: "same", ExplicitHashKey: ehk, Data: testData(i)})
		require.NoError(t, err)
		assert.Equal(t, f.openShardIDs()[i], res.ShardID)
	}
}

func TestPutBeforeTheShardMapIsKnownWaits(t *testing.T) {
	f := newFakeKinesis("s", 2)
	gate := make(chan struct{})
	blocking := &gatedList{fakeKinesis: f, gate: gate}
	p, err := New(blocking, "s")
	require.NoError(t, err)
	c := newCollector()
	for i := range 100 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	assert.EqualValues(t, 100, p.Stats().UserRecordsPending)
	assert.Zero(t, f.putCalls(), "nothing may be sent before the shard map is known")
	close(gate)
	require.NoError(t, p.Close(context.Background()))
	for _, o := range c.exactlyOnce(t, 100) {
		require.NoError(t, o.err)
		assert.True(t, o.res.Aggregated, "records waiting for the map are aggregated, not sent plain")
	}
	checkWritten(t, f, 100, nil)
}

// gatedList holds ListShards until gate is closed.
type gatedList struct {
	*fakeKinesis
	gate chan struct{}
}

func (g *gatedList) ListShards(ctx context.Context, in *kinesis.ListShardsInput, o ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.fakeKinesis.ListShards(ctx, in, o...)
}

func TestValidation(t *testing.T) {
	f := newFakeKinesis("s", 1)
	p := newTestProducer(t, f)
	long := strings.Repeat("é", 257)
	for name, tc := range map[string]struct {
		r     Record
		field string
	}{
		"empty partition key":   {Record{Data: []byte("x")}, "PartitionKey"},
		"257 characters":        {Record{PartitionKey: long, Data: []byte("x")}, "PartitionKey"},
		"invalid UTF-8":         {Record{PartitionKey: "\xff", Data: []byte("x")}, "PartitionKey"},
		"too big":               {Record{PartitionKey: "k", Data: make([]byte, 1<<20)}, "Data"},
		"EHK not a number":      {Record{PartitionKey: "k", ExplicitHashKey: "12a"}, "ExplicitHashKey"},
		"EHK too big":           {Record{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456"}, "ExplicitHashKey"},
		"EHK with leading zero": {Record{PartitionKey: "k", ExplicitHashKey: "01"}, "ExplicitHashKey"},
	} {
		t.Run(name, func(t *testing.T) {
			err := p.Put(context.Background(), tc.r, func(Result, error) { t.Error("callback called for an invalid record") })
			require.ErrorIs(t, err, ErrInvalidRecord)
			var ire *InvalidRecordError
			require.ErrorAs(t, err, &ire)
			assert.Equal(t, tc.field, ire.Field)
			assert.Zero(t, p.Stats().UserRecordsPending, "nothing buffered")
		})
	}
	ok := []Record{
		{PartitionKey: strings.Repeat("é", 256), Data: []byte("x")},
		{PartitionKey: "k", Data: make([]byte, 1<<20-1)},
		{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211455"},
		{PartitionKey: "k", ExplicitHashKey: "0"},
	}
	c := newCollector()
	for i, r := range ok {
		require.NoError(t, p.Put(context.Background(), r, c.done(i)))
	}
	require.NoError(t, p.Flush(context.Background()))
	for i, o := range c.exactlyOnce(t, len(ok)) {
		require.NoError(t, o.err, "record %d", i)
	}
	_, err := aggregation.ParseHash128("1")
	require.NoError(t, err)
}

func TestPutAfterCloseFails(t *testing.T) {
	f := newFakeKinesis("s", 1)
	p, err := New(f, "s")
	require.NoError(t, err)
	require.NoError(t, p.Close(context.Background()))
	assert.ErrorIs(t, p.Put(context.Background(), Record{PartitionKey: "k"}, nil), ErrClosed)
	_, err = p.PutSync(context.Background(), Record{PartitionKey: "k"})
	assert.ErrorIs(t, err, ErrClosed)
	assert.ErrorIs(t, p.Flush(context.Background()), ErrClosed)
	assert.NoError(t, p.Close(context.Background()), "a second Close")
}

func TestNewValidatesOptions(t *testing.T) {
	f := newFakeKinesis("s", 1)
	for name, fn := range map[string]func(*Options){
		"CollectionMaxCount": func(o *Options) { o.CollectionMaxCount = 501 },
		"AggregationMaxSize": func(o *Options) { o.AggregationMaxSize = 10 },
		"RecordTTL":          func(o *Options) { o.RecordTTL = time.Millisecond },
		"MaxConnections":     func(o *Options) { o.MaxConnections = 1000 },
		"RateLimit":          func(o *Options) { o.RateLimit = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(f, "s", fn)
			require.ErrorIs(t, err, ErrInvalidOptions)
			assert.Contains(t, err.Error(), name)
		})
	}
	_, err := New(nil, "s")
	assert.ErrorIs(t, err, ErrInvalidOptions)
	_, err = New(f, "")
	assert.ErrorIs(t, err, ErrInvalidOptions)
}

func TestFlushWaitsForEarlierRecordsOnly(t *testing.T) {
	f := newFakeKinesis("s", 2)
	p := newTestProducer(t, f, func(o *Options) { o.RecordMaxBufferedTime = time.Hour })
	c := newCollector()
	for i := range 300 {
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: testData(i)}, c.done(i)))
	}
	// RecordMaxBufferedTime is an hour: only Flush can send them.
	require.NoError(t, p.Flush(context.Background()))
	c.mu.Lock()
	assert.Len(t, c.got, 300)
	c.mu.Unlock()
}
