package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
	"github.com/kinesis-go/kinesis/kinesistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

func newFake(t testing.TB, stream string, shards int32) *kinesistest.Kinesis {
	t.Helper()
	k := kinesistest.NewServer(t).Kinesis()
	_, err := k.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)})
	require.NoError(t, err)
	return k
}

// delivered returns the user records stored in the stream, deaggregated.
func delivered(t testing.TB, k *kinesistest.Kinesis, stream string) []string {
	t.Helper()
	var out []string
	for _, sh := range k.Shards(stream) {
		for _, r := range k.Records(stream, aws.ToString(sh.ShardId)) {
			urs, err := aggregation.Deaggregate(r.Data)
			require.NoError(t, err)
			for _, u := range urs {
				out = append(out, string(u.Data))
			}
		}
	}
	return out
}

func parse(t testing.TB, js string) *config.Config {
	t.Helper()
	c, err := config.Parse("agent.json", []byte(js))
	require.NoError(t, err)
	return c
}

func appendLines(t testing.TB, path, prefix string, from, to int) []string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	defer f.Close()
	var ls []string
	for i := from; i < to; i++ {
		l := fmt.Sprintf("%s %06d some log text\n", prefix, i)
		_, err := f.WriteString(l)
		require.NoError(t, err)
		ls = append(ls, l)
	}
	return ls
}

// start runs an agent in the background; stop ends it gracefully and returns Run's error.
func start(t testing.TB, opts Options) (a *Agent, stop func() error) {
	t.Helper()
	opts.Logger = quiet
	a, err := New(context.Background(), opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, func() error { cancel(); return <-done }
}

func savedPositions(t testing.TB, dir string) []tail.Position {
	t.Helper()
	ps, err := (func() ([]tail.Position, error) {
		st, err := tail.NewStore(dir)
		if err != nil {
			return nil, err
		}
		return st.Load()
	})()
	require.NoError(t, err)
	return ps
}

// Lines go out once each, byte for byte, aggregated; a graceful stop saves the
// positions of everything written, so a restart sends nothing twice.
func TestEveryLineOnceAcrossGracefulRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, state := t.TempDir(), t.TempDir()
		path := filepath.Join(logs, "app.log")
		want := appendLines(t, path, "a", 0, 1000)
		fake := newFake(t, "logs", 2)
		cfg := parse(t, `{"checkpointIntervalMillis": 100, "statusIntervalMillis": 1000, "flows":[{"filePattern":"`+logs+`/*.log","kinesisStream":"logs","initialPosition":"START_OF_FILE"}]}`)

		_, stop := start(t, Options{Config: cfg, StateDir: state, Client: fake})
		time.Sleep(5 * time.Second)
		want = append(want, appendLines(t, path, "a", 1000, 1500)...)
		time.Sleep(5 * time.Second)
		require.NoError(t, stop())
		assert.ElementsMatch(t, want, delivered(t, fake, "logs"))
		fi, err := os.Stat(path)
		require.NoError(t, err)
		ps := savedPositions(t, state)
		require.Len(t, ps, 1)
		assert.Equal(t, fi.Size(), ps[0].Offset, "graceful stop saves the position of every line written")

		_, stop = start(t, Options{Config: cfg, StateDir: state, Client: fake})
		want = append(want, appendLines(t, path, "a", 1500, 1510)...)
		time.Sleep(5 * time.Second)
		require.NoError(t, stop())
		got := delivered(t, fake, "logs")
		assert.ElementsMatch(t, want, got, "nothing twice after a graceful restart")

		var recs int
		for _, sh := range fake.Shards("logs") {
			recs += len(fake.Records("logs", aws.ToString(sh.ShardId)))
		}
		assert.Less(t, recs, 20, "lines are aggregated: %d Kinesis records for %d lines", recs, len(got))
	})
}

// Positions are saved within the checkpoint interval of the records' confirmation.
func TestPositionsSavedWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, state := t.TempDir(), t.TempDir()
		path := filepath.Join(logs, "app.log")
		appendLines(t, path, "b", 0, 100)
		fake := newFake(t, "logs", 1)
		cfg := parse(t, `{"checkpointIntervalMillis": 1000, "statusIntervalMillis": -1, "flows":[{"filePattern":"`+path+`","kinesisStream":"logs","initialPosition":"START_OF_FILE"}]}`)
		_, stop := start(t, Options{Config: cfg, StateDir: state, Client: fake})
		defer func() { require.NoError(t, stop()) }()
		time.Sleep(2 * time.Second)
		fi, err := os.Stat(path)
		require.NoError(t, err)
		ps := savedPositions(t, state)
		require.Len(t, ps, 1)
		assert.Equal(t, fi.Size(), ps[0].Offset)
	})
}

func TestProcessingOptionsAndPartitionKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, state := t.TempDir(), t.TempDir()
		path := filepath.Join(logs, "access.log")
		require.NoError(t, os.WriteFile(path, []byte(
			`127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326`+"\n"+
				"garbage\n"), 0o644))
		fake := newFake(t, "logs", 1)
		cfg := parse(t, `{"statusIntervalMillis": -1, "flows":[{"filePattern":"`+path+`","kinesisStream":"logs","initialPosition":"START_OF_FILE",
			"partitionKeyField":"host",
			"dataProcessingOptions":[{"optionName":"LOGTOJSON","logFormat":"COMMONAPACHELOG"}]}]}`)
		a, stop := start(t, Options{Config: cfg, StateDir: state, Client: fake})
		time.Sleep(3 * time.Second)
		assert.Equal(t, int64(1), a.Status().Filtered)
		require.NoError(t, stop())
		got := delivered(t, fake, "logs")
		require.Len(t, got, 1)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(got[0]), &m))
		assert.Equal(t, "frank", m["authuser"])
		// A lone record goes out as it is, with its key.
		sh := fake.Shards("logs")[0]
		assert.Equal(t, "127.0.0.1", aws.ToString(fake.Records("logs", aws.ToString(sh.ShardId))[0].PartitionKey))
		ps := savedPositions(t, state)
		require.Len(t, ps, 1)
		fi, _ := os.Stat(path)
		assert.Equal(t, fi.Size(), ps[0].Offset, "the filtered line counts as done")
	})
}

// Serve restarts the agent with the new configuration on reload; a broken
// configuration is refused and the running one goes on.
func TestServeReloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, state := t.TempDir(), t.TempDir()
		a, b := filepath.Join(logs, "a.log"), filepath.Join(logs, "b.log")
		wantA := appendLines(t, a, "a", 0, 10)
		wantB := appendLines(t, b, "b", 0, 10)
		fake := newFake(t, "logs", 1)
		cfgs := []string{
			`{"statusIntervalMillis": -1, "flows":[{"filePattern":"` + a + `","kinesisStream":"logs","initialPosition":"START_OF_FILE"}]}`,
			`{"flows":[{"filePattern":"` + b + `","kinesisStream":"logs","initialPosition":"START_OF_FILE", "bogus": 1}]}`,
			`{"statusIntervalMillis": -1, "flows":[{"filePattern":"` + a + `","kinesisStream":"logs"},{"filePattern":"` + b + `","kinesisStream":"logs","initialPosition":"START_OF_FILE"}]}`,
		}
		n := 0
		load := func() (*config.Config, error) {
			c, err := config.Parse("agent.json", []byte(cfgs[n]))
			n++
			return c, err
		}
		reload := make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Serve(ctx, load, reload, Options{StateDir: state, Client: fake, Logger: quiet}) }()
		time.Sleep(3 * time.Second)
		assert.ElementsMatch(t, wantA, delivered(t, fake, "logs"))
		reload <- struct{}{} // broken: refused
		time.Sleep(3 * time.Second)
		wantA = append(wantA, appendLines(t, a, "a", 10, 12)...)
		time.Sleep(3 * time.Second)
		assert.ElementsMatch(t, wantA, delivered(t, fake, "logs"), "the running configuration goes on")
		reload <- struct{}{}
		time.Sleep(3 * time.Second)
		wantA = append(wantA, appendLines(t, a, "a", 12, 13)...)
		time.Sleep(3 * time.Second)
		cancel()
		require.NoError(t, <-done)
		assert.ElementsMatch(t, slices.Concat(wantA, wantB), delivered(t, fake, "logs"),
			"a.log resumes from its saved position (END_OF_FILE does not apply), b.log is read")
	})
}

func TestNewValidates(t *testing.T) {
	_, err := New(context.Background(), Options{})
	require.Error(t, err)
	cfg := parse(t, `{"flows":[{"filePattern":"/x","kinesisStream":"s"}]}`)
	_, err = New(context.Background(), Options{Config: cfg})
	require.ErrorContains(t, err, "-state")
	bad := filepath.Join(t.TempDir(), "positions.json")
	require.NoError(t, os.WriteFile(bad, []byte("{"), 0o600))
	_, err = New(context.Background(), Options{Config: cfg, StateDir: filepath.Dir(bad), Client: newFake(t, "s", 1)})
	require.ErrorContains(t, err, "positions")
}
