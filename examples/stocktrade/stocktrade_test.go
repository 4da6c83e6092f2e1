package stocktrade

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }

func TestGeneratorIsDeterministicAndPlausible(t *testing.T) {
	a, b := NewGenerator(7), NewGenerator(7)
	counts := map[string]int{}
	for i := 0; i < 5000; i++ {
		x, y := a.Next(), b.Next()
		require.Equal(t, x, y, "same seed, same trades")
		require.Equal(t, int64(i+1), x.ID)
		require.Contains(t, []TradeType{Buy, Sell}, x.TradeType)
		require.Positive(t, x.Quantity)
		counts[x.TickerSymbol]++
		var ref float64
		for _, tk := range tickers {
			if tk.symbol == x.TickerSymbol {
				ref = tk.price
			}
		}
		require.InDelta(t, ref, x.Price, ref*0.5, "price of %s drifts around its reference", x.TickerSymbol)
	}
	// Weighted popularity: the most weighted tickers are traded far more than the tail.
	require.Greater(t, counts["AAPL"], 3*counts["MRK"])
	require.NotEqual(t, NewGenerator(1).Next(), NewGenerator(2).Next())
}

func TestTradeJSONRoundTrip(t *testing.T) {
	tr := StockTrade{TickerSymbol: "AMZN", TradeType: Sell, Price: 181.25, Quantity: 40, ID: 9}
	data, err := tr.Encode()
	require.NoError(t, err)
	require.JSONEq(t, `{"tickerSymbol":"AMZN","tradeType":"SELL","price":181.25,"quantity":40,"id":9}`, string(data))
	got, err := Decode(data)
	require.NoError(t, err)
	require.Equal(t, tr, got)
	_, err = Decode([]byte(`{"tickerSymbol":"AMZN","tradeType":"HOLD","price":1,"quantity":1}`))
	require.Error(t, err)
	_, err = Decode([]byte(`not json`))
	require.Error(t, err)
}

func TestStatsPickWinnersIndependentlyOfOrder(t *testing.T) {
	trades := []StockTrade{
		{TickerSymbol: "AAPL", TradeType: Buy, Price: 10, Quantity: 5, ID: 1},
		{TickerSymbol: "AAPL", TradeType: Buy, Price: 10, Quantity: 50, ID: 2},
		{TickerSymbol: "MSFT", TradeType: Buy, Price: 100, Quantity: 6, ID: 3},
		{TickerSymbol: "MSFT", TradeType: Buy, Price: 100, Quantity: 50, ID: 4}, // ties 2 on quantity, loses on id
		{TickerSymbol: "KO", TradeType: Sell, Price: 1.5, Quantity: 3, ID: 5},
	}
	fwd, rev := NewStats(), NewStats()
	for i := range trades {
		fwd.Add(trades[i])
		rev.Add(trades[len(trades)-1-i])
	}
	require.Equal(t, fwd, rev)
	b := fwd.ByType[Buy]
	require.Equal(t, int64(4), b.Trades)
	require.Equal(t, int64(111), b.Quantity)
	require.Equal(t, int64(5*1000+50*1000+6*10000+50*10000), b.ValueCents)
	sym, n := b.MostPopular()
	require.Equal(t, "AAPL", sym, "AAPL and MSFT tie at 2 trades: alphabetical first")
	require.Equal(t, int64(2), n)
	require.Equal(t, int64(2), b.LargestByQuantity.ID)
	require.Equal(t, int64(4), b.LargestByValue.ID)

	var out bytes.Buffer
	fwd.Report(&out, "report")
	require.Contains(t, out.String(), "report: 5 trades")
	require.Contains(t, out.String(), "most popular AAPL")
	require.Contains(t, out.String(), "$4.50")
}

func TestFlagsRejectBadInput(t *testing.T) {
	for _, args := range [][]string{{"-nope"}, {"-rate", "0"}, {"extra"}, {"-count", "-1"}} {
		_, err := ParseProducerFlags(args, io.Discard)
		require.Error(t, err, "producer %v", args)
	}
	for _, args := range [][]string{{"-nope"}, {"-interval", "0s"}, {"-initial-position", "MIDDLE"}, {"-endpoint", "http://127.0.0.1:1"}} {
		_, err := ParseConsumerFlags(args, io.Discard)
		require.Error(t, err, "consumer %v", args)
	}
	c, err := ParseConsumerFlags([]string{"-initial-position", "trim_horizon"}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "TRIM_HORIZON", c.InitialPosition)
}

func TestMissingStreamAndUnreachableEndpointAreOneLineErrors(t *testing.T) {
	env := testbed.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := RunProducer(ctx, ProducerConfig{Stream: "no-such-stream", Endpoint: env.KinesisEndpoint, Rate: 1, Count: 1, Progress: time.Second}, io.Discard, slog.Default())
	require.ErrorContains(t, err, `stream "no-such-stream" does not exist`)
	require.NotContains(t, err.Error(), "\n")

	_, err = RunProducer(ctx, ProducerConfig{Stream: "s", Endpoint: "http://127.0.0.1:1", Rate: 1, Count: 1, Progress: time.Second}, io.Discard, slog.Default())
	require.ErrorContains(t, err, "cannot reach Kinesis at http://127.0.0.1:1")
	require.NotContains(t, err.Error(), "\n")
}

// TestEndToEnd runs the producer and the consumer against the emulators with a fixed seed
// and checks that the consumer's totals and winners equal the ones computed directly from
// the generated trades.
func TestEndToEnd(t *testing.T) {
	env := testbed.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stream := env.CreateStream(t, 4)
	const count, seed = 600, 42

	var mu sync.Mutex
	var confirmed []StockTrade
	var pout bytes.Buffer
	sum, err := RunProducer(ctx, ProducerConfig{
		Stream: stream, Endpoint: env.KinesisEndpoint, Rate: 1000, Count: count, Seed: seed, Progress: time.Second,
		OnTrade: func(t StockTrade) { mu.Lock(); confirmed = append(confirmed, t); mu.Unlock() },
	}, &pout, slog.Default())
	require.NoError(t, err)
	require.Equal(t, int64(count), sum.Confirmed)
	require.Zero(t, sum.Failed)
	require.Contains(t, pout.String(), "producer done: 600 trades put, 600 confirmed, 0 failed")

	want := NewStats()
	gen := NewGenerator(seed)
	for i := 0; i < count; i++ {
		want.Add(gen.Next())
	}
	require.Len(t, confirmed, count)

	var counted atomic.Int64
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	var cout syncBuffer
	done := make(chan struct{})
	var got ConsumerSummary
	var runErr error
	go func() {
		defer close(done)
		got, runErr = RunConsumer(cctx, ConsumerConfig{
			Stream: stream, App: testbed.UniqueName("stats"), Endpoint: env.KinesisEndpoint, DynamoDBEndpoint: env.DynamoDBEndpoint,
			Interval: time.Second, InitialPosition: "TRIM_HORIZON", Counted: &counted,
		}, &cout, slog.Default())
	}()
	require.Eventually(t, func() bool { return counted.Load() >= count }, 2*time.Minute, 50*time.Millisecond,
		"the consumer should count all %d trades", count)
	stop()
	<-done
	require.NoError(t, runErr)
	require.Equal(t, want, got.Stats, "the consumer's totals and winners equal those of the generated trades")
	require.Contains(t, cout.String(), "most popular", "at least one report was printed")
	require.True(t, strings.Contains(cout.String(), "all trades counted by this worker: 600 trades"), cout.String())
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestNoCredentialsIsAOneLineError(t *testing.T) {
	dir := t.TempDir()
	empty := dir + "/empty"
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // never reach for an instance metadata service
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := RunProducer(ctx, ProducerConfig{Stream: "s", Region: "us-east-1", Rate: 1, Count: 1, Progress: time.Second}, io.Discard, slog.Default())
	require.ErrorContains(t, err, "no AWS credentials found")
	require.NotContains(t, err.Error(), "\n")
}
