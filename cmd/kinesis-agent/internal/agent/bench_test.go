package agent

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/kinesistest"
)

// BenchmarkAgent measures the whole agent: b.N lines of 200 bytes (newline
// included), already in the files, read, put through the producer (aggregation on)
// into kinesistest's in-process Kinesis over a real *kinesis.Client, and
// confirmed. It reports lines/s, the process's CPU time per line (agent, SDK and
// the in-process Kinesis together: an upper bound for the agent). The agent's own
// memory is measured by BenchmarkAgentProcess (package main), in a process of its
// own. Run it with a fixed count, for example:
//
//	go test -run '^$' -bench BenchmarkAgent -benchtime 1000000x ./cmd/kinesis-agent/internal/agent/
func BenchmarkAgent(b *testing.B) {
	for _, files := range []int{1, 100} {
		b.Run(fmt.Sprintf("files=%d", files), func(b *testing.B) { benchAgent(b, files) })
	}
}

func benchAgent(b *testing.B, files int) {
	logs, state := b.TempDir(), b.TempDir()
	srv := kinesistest.NewServer(b)
	// 20 MB/s of lines need 20 shards at Kinesis's 1 MiB/s per shard (the producer sends 1.5 MiB/s
	// per shard at most): a stream sized for the load, as in production.
	require.NoError(b, srv.CreateStream("logs", 32))
	var sizes int64
	perFile := (b.N + files - 1) / files
	line := func(f, i int) []byte {
		l := fmt.Appendf(nil, "2026-12-03T10:31:54.123Z host-%03d app[%d]: request %09d served ", f, f, i)
		return append(append(l, bytes.Repeat([]byte("x"), 199-len(l))...), '\n')
	}
	for f := range files {
		w, err := os.Create(filepath.Join(logs, fmt.Sprintf("app-%03d.log", f)))
		require.NoError(b, err)
		bw := bufio.NewWriterSize(w, 1<<20)
		for i := range perFile {
			n, _ := bw.Write(line(f, i))
			sizes += int64(n)
		}
		require.NoError(b, bw.Flush())
		require.NoError(b, w.Close())
	}
	cfg := parse(b, `{"statusIntervalMillis": -1, "checkpointIntervalMillis": 1000, "flows":[{
		"filePattern": "`+logs+`/*.log", "kinesisStream": "logs", "initialPosition": "START_OF_FILE",
		"minTimeBetweenFilePollsMillis": 10}]}`)
	a, err := New(context.Background(), Options{Config: cfg, StateDir: state, Client: srv.Client(), Logger: quiet})
	require.NoError(b, err)
	cpu0 := cpuTime()
	b.ResetTimer()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for confirmed(a) < sizes {
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	cancel()
	require.NoError(b, <-done)
	lines := float64(perFile * files)
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/lines, "cpu-ns/line")
}

// confirmed is the sum of the confirmed offsets over every file.
func confirmed(a *Agent) int64 {
	var n int64
	for _, p := range a.Positions() {
		n += p.Offset
	}
	return n
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
