package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// BenchmarkAgentProcess runs the agent as its own process (this test binary
// re-executed as the command) tailing 100 files of b.N lines of 200 bytes in all,
// into kinesistest's Kinesis over loopback HTTP, until every line is confirmed in
// the saved positions, then stops it with SIGTERM. It reports the agent process's
// peak RSS (its own, without the in-process Kinesis that keeps every record),
// its CPU time per line, and lines/s end to end. For example:
//
//	go test -run '^$' -bench BenchmarkAgentProcess -benchtime 1000000x ./cmd/kinesis-agent/
func BenchmarkAgentProcess(b *testing.B) {
	const files = 100
	logs, state := b.TempDir(), b.TempDir()
	srv := kinesistest.NewServer(b)
	require.NoError(b, srv.CreateStream("logs", 32)) // 20 MB/s needs 20+ shards
	perFile := (b.N + files - 1) / files
	var total int64
	for f := range files {
		w, err := os.Create(filepath.Join(logs, fmt.Sprintf("app-%03d.log", f)))
		require.NoError(b, err)
		bw := bufio.NewWriterSize(w, 1<<20)
		for i := range perFile {
			l := fmt.Appendf(nil, "2026-12-03T10:31:54.123Z host-%03d app[%d]: request %09d served ", f, f, i)
			l = append(append(l, bytes.Repeat([]byte("x"), 199-len(l))...), '\n')
			n, _ := bw.Write(l)
			total += int64(n)
		}
		require.NoError(b, bw.Flush())
		require.NoError(b, w.Close())
	}
	cfg, _ := json.Marshal(map[string]any{"statusIntervalMillis": -1, "checkpointIntervalMillis": 100,
		"flows": []map[string]any{{"filePattern": logs + "/*.log", "kinesisStream": "logs",
			"initialPosition": "START_OF_FILE", "minTimeBetweenFilePollsMillis": 10}}})
	cfgPath := filepath.Join(state, "agent.json")
	require.NoError(b, os.WriteFile(cfgPath, cfg, 0o644))

	b.ResetTimer()
	cmd := exec.Command(os.Args[0], "-config", cfgPath, "-state", state, "-endpoint", srv.URL())
	cmd.Env = append(os.Environ(), agentEnv+"=1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(b, cmd.Start())
	store, err := tail.NewStore(state)
	require.NoError(b, err)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ps, _ := store.Load()
		var done int64
		for _, p := range ps {
			done += p.Offset
		}
		if done >= total {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			b.Fatalf("not all lines confirmed after 10 minutes (%d of %d bytes); log:\n%s", done, total, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.StopTimer()
	// VmHWM of the agent's own memory map: the rusage maximum of a child also
	// counts the parent's memory at the fork (Linux keeps the old map's peak at exec).
	hwm := vmHWM(b, cmd.Process.Pid)
	require.NoError(b, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(b, cmd.Wait(), "log:\n%s", stderr.String())
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	lines := float64(perFile * files)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	b.ReportMetric(lines/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/lines, "agent-cpu-ns/line")
	b.ReportMetric(float64(hwm)/(1<<20), "agent-peak-RSS-MiB")
}

// vmHWM is a process's peak resident set size in bytes.
func vmHWM(b *testing.B, pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(b, err)
	for l := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(b, err)
			return kb << 10
		}
	}
	b.Fatal("no VmHWM in /proc/pid/status")
	return 0
}
