package producer

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var burstRecords = flag.Int("burst", 20000, "records of TestIntegrationBurstIsNotDuplicated (the issue's measurement: 50000)")

// A burst far above what the endpoint takes per RequestTimeout (kinesis-mock writes
// about 1 MB/s) must not time calls out: each timed-out call is retried and writes
// its aggregates twice. The producer sizes and paces its calls to the endpoint's
// observed throughput instead. Run with -burst N to change the burst; the
// duplicates are logged (go test -run TestIntegrationBurstIsNotDuplicated -v).
func TestIntegrationBurstIsNotDuplicated(t *testing.T) {
	env := integration(t)
	stream := env.CreateStream(t, 4)
	client := env.Kinesis()
	p, err := New(client, stream)
	require.NoError(t, err)
	n := *burstRecords
	c := newCollector()
	pad := strings.Repeat("x", 100)
	start := time.Now()
	for i := range n {
		data := []byte(fmt.Sprintf("burst-%06d-%s", i, pad))
		require.NoError(t, p.Put(context.Background(), Record{PartitionKey: testKey(i), Data: data}, c.done(i)))
	}
	require.NoError(t, p.Close(context.Background()))
	elapsed := time.Since(start)
	timeouts := succeededAfterTimeouts(t, c.exactlyOnce(t, n))
	var data []string
	for _, r := range readStream(t, client, stream) {
		if !r.outOfRange {
			data = append(data, r.data)
		}
	}
	distinct, dups := duplicates(data)
	assert.Equal(t, n, distinct, "every record is in the stream")
	st := p.Stats()
	t.Logf("burst of %d records in %v: %d PutRecords calls, %d timed-out attempts (counted per user record), %d duplicates at the consumer (%.1f%%)",
		n, elapsed.Round(time.Millisecond), st.PutRecordsRequests, timeouts, dups, 100*float64(dups)/float64(n))
	assert.Less(t, float64(dups), 0.01*float64(n), "at most 1%% duplicates")
}
