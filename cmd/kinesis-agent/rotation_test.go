package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// agentProc is the agent running as a child process.
type agentProc struct {
	cmd  *exec.Cmd
	done chan error
}

// rotationRig is one seeded run: the log directory, the agent, the stream, and
// what was written.
type rotationRig struct {
	t       *testing.T
	rng     *rand.Rand
	env     *testbed.Env
	client  *kinesis.Client
	stream  string
	dir     string // the logs
	state   string
	cfg     string
	logPath string // the agent's stderr
	pattern string
	agent   *agentProc
	seq     int
	rotated int
	written []string        // complete lines, in write order
	partial string          // the unfinished end of app.log's last line
	files   map[string]bool // rotated file -> all its lines delivered (may be deleted)
	safe    map[string]int  // lines before a saved position at a kill, and how often they were delivered then: never sent again
	killed  bool
	downOps int      // rotations while the agent is down
	trace   []string // the operations, logged when the test fails
}

func (r *rotationRig) tracef(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf("%s seq=%d ", time.Now().Format("15:04:05.000"), r.seq)+fmt.Sprintf(format, args...))
}

func (r *rotationRig) app() string { return filepath.Join(r.dir, "app.log") }

func (r *rotationRig) start() {
	r.t.Helper()
	logf, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(r.t, err)
	cmd := exec.Command(os.Args[0], "-config", r.cfg, "-state", r.state, "-endpoint", r.env.KinesisEndpoint)
	cmd.Env = append(os.Environ(), agentEnv+"=1", "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_REGION=us-east-1")
	cmd.Stderr = logf
	cmd.Stdout = logf
	require.NoError(r.t, cmd.Start())
	p := &agentProc{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait(); logf.Close() }()
	r.agent = p
	r.downOps = 0
	r.tracef("agent started")
}

// stop ends the agent: SIGKILL, or SIGTERM (then it must exit 0 within a bound).
func (r *rotationRig) stop(kill bool) {
	r.t.Helper()
	p := r.agent
	r.agent = nil
	r.tracef("agent stopped (kill=%v)", kill)
	if kill {
		require.NoError(r.t, p.cmd.Process.Signal(syscall.SIGKILL))
		<-p.done
		r.killed = true
		r.protectSaved()
		return
	}
	require.NoError(r.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(r.t, err, "SIGTERM must exit 0; agent log:\n%s", r.agentLog())
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		r.t.Fatalf("agent did not stop within 30s of SIGTERM; log:\n%s", r.agentLog())
	}
}

func (r *rotationRig) agentLog() string {
	b, _ := os.ReadFile(r.logPath)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// protectSaved records the lines before each saved position and how often each
// was delivered at that moment: after a SIGKILL and a restart, those must never be
// sent again (lines after the saved positions may be, once per kill).
func (r *rotationRig) protectSaved() {
	defer func() {
		var got map[string]int
		for l, n := range r.safe {
			if n < 0 {
				if got == nil {
					got = r.delivered()
				}
				r.safe[l] = got[l]
			}
		}
	}()
	st, err := tail.NewStore(r.state)
	require.NoError(r.t, err)
	ps, err := st.Load()
	require.NoError(r.t, err)
	entries, err := os.ReadDir(r.dir)
	require.NoError(r.t, err)
	for _, p := range ps {
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				continue
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok || uint64(st.Ino) != p.Ino || uint64(st.Dev) != p.Dev { //nolint:unconvert
				continue
			}
			data, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
			if err != nil || int64(len(data)) < p.Offset {
				continue
			}
			for l := range strings.SplitAfterSeq(string(data[:p.Offset]), "\n") {
				if _, known := r.safe[l]; !known && strings.HasSuffix(l, "\n") {
					r.safe[l] = -1 // count filled in below
				}
			}
		}
	}
}

func (r *rotationRig) line() string {
	r.seq++
	return fmt.Sprintf("l%06d %s\n", r.seq, strings.Repeat(string(rune('a'+r.seq%26)), r.rng.IntN(120)))
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(s)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

// write appends complete lines to app.log, the first finishing a partial one, and
// sometimes leaves a partial line at the end.
func (r *rotationRig) write(path string, n int, allowPartial bool) {
	var b strings.Builder
	if path == r.app() && r.partial != "" {
		b.WriteString(r.partial)
		r.partial = ""
	}
	for range n {
		l := r.line()
		b.WriteString(l)
		r.written = append(r.written, l)
	}
	if allowPartial && path == r.app() && r.rng.IntN(4) == 0 {
		l := r.line()
		cut := 1 + r.rng.IntN(len(l)-1)
		b.WriteString(l[:cut])
		r.partial = l[cut:]
		r.written = append(r.written, l)
	}
	appendTo(r.t, path, b.String())
	r.tracef("write %d lines to %s (partial=%v)", n, filepath.Base(path), r.partial != "")
}

// finishPartial completes app.log's last line (before a rotation: a writer
// finishes its line before it reopens).
func (r *rotationRig) finishPartial() {
	if r.partial != "" {
		appendTo(r.t, r.app(), r.partial)
		r.partial = ""
	}
}

// pause gives a running agent time to notice a rotation before the next one.
func (r *rotationRig) pause() {
	if r.agent != nil {
		time.Sleep(500 * time.Millisecond)
	}
}

func (r *rotationRig) rotatedName() string {
	r.rotated++
	return r.app() + "." + strconv.Itoa(r.rotated)
}

func (r *rotationRig) renameRotate() {
	r.finishPartial()
	to := r.rotatedName()
	require.NoError(r.t, os.Rename(r.app(), to))
	r.files[to] = false
	if r.rng.IntN(3) == 0 { // the writer appends to the renamed file before it reopens
		r.write(to, 1+r.rng.IntN(5), false)
	}
	require.NoError(r.t, os.WriteFile(r.app(), nil, 0o644)) // logrotate's "create"
	r.tracef("renamed app.log to %s, created app.log", filepath.Base(to))
}

// copyTruncate copies app.log and truncates it. The agent finds the copy by the
// first bytes it saw of app.log: the file must have been polled since its first
// bytes (logrotate runs long after a log's first lines), hence the pause.
func (r *rotationRig) copyTruncate() {
	r.finishPartial()
	r.pause()
	to := r.rotatedName()
	data, err := os.ReadFile(r.app())
	require.NoError(r.t, err)
	require.NoError(r.t, os.WriteFile(to, data, 0o644))
	require.NoError(r.t, os.Truncate(r.app(), 0))
	r.files[to] = false
	r.tracef("copied app.log to %s, truncated app.log", filepath.Base(to))
}

// delivered reads the whole stream and counts each user record.
func (r *rotationRig) delivered() map[string]int {
	r.t.Helper()
	ctx := context.Background()
	got := map[string]int{}
	shards, err := r.client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(r.stream)})
	require.NoError(r.t, err)
	for _, sh := range shards.Shards {
		it, err := r.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(r.stream),
			ShardId: sh.ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
		require.NoError(r.t, err)
		iter := it.ShardIterator
		for iter != nil {
			out, err := r.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: iter})
			require.NoError(r.t, err)
			for _, rec := range out.Records {
				urs, err := aggregation.Deaggregate(rec.Data)
				require.NoError(r.t, err)
				for _, u := range urs {
					got[string(u.Data)]++
				}
			}
			if len(out.Records) == 0 {
				break
			}
			iter = out.NextShardIterator
		}
	}
	return got
}

// sync waits until every complete line written is delivered; the rotated files
// are then done (and may be deleted or compressed).
func (r *rotationRig) sync() {
	r.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got := r.delivered()
		missing := 0
		var first string
		for _, l := range r.completeLines() {
			if got[l] == 0 {
				missing++
				if first == "" {
					first = l
				}
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%d lines not delivered after 60s, first %q", missing, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for f := range r.files {
		r.files[f] = true
	}
}

// completeLines are the lines written with their newline.
func (r *rotationRig) completeLines() []string {
	ls := r.written
	if r.partial != "" {
		ls = ls[:len(ls)-1]
	}
	return ls
}

func (r *rotationRig) doneFile() string {
	for f, done := range r.files {
		if done {
			if _, err := os.Stat(f); err == nil {
				return f
			}
		}
	}
	return ""
}

func (r *rotationRig) step() {
	rotateOK := r.agent != nil || r.downOps == 0 // unseen rotations while down are lost
	switch op := r.rng.IntN(100); {
	case op < 55:
		r.write(r.app(), 1+r.rng.IntN(60), true)
	case op < 70 && rotateOK:
		r.renameRotate()
		r.downOps++
		r.pause()
	case op < 80 && rotateOK && (r.agent != nil || strings.HasSuffix(r.pattern, "*")):
		// While the agent is down, app.log may have got its first bytes since it was
		// last seen: its copy is then found only through the pattern.
		r.copyTruncate()
		r.downOps++
		r.pause()
	case op < 88:
		if f := r.doneFile(); f != "" {
			require.NoError(r.t, os.Remove(f))
			r.tracef("deleted %s", filepath.Base(f))
		}
	case op < 94:
		if f := r.doneFile(); f != "" {
			compress(r.t, f)
			r.tracef("compressed %s", filepath.Base(f))
		}
	default:
		time.Sleep(time.Duration(r.rng.IntN(300)) * time.Millisecond)
	}
}

func compress(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(data)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(path+".gz", b.Bytes(), 0o644))
	require.NoError(t, os.Remove(path))
}

// refill truncates app.log and writes it again at once, between two polls: only
// after a sync, when everything in it was delivered.
func (r *rotationRig) refill() {
	if r.partial != "" { // the unfinished line goes with the truncation
		r.written = r.written[:len(r.written)-1]
		r.partial = ""
	}
	var b strings.Builder
	for range 1 + r.rng.IntN(20) {
		l := r.line()
		b.WriteString(l)
		r.written = append(r.written, l)
	}
	require.NoError(r.t, os.WriteFile(r.app(), []byte(b.String()), 0o644))
	r.tracef("refilled app.log")
}

// TestRotationFuzz writes, rotates (rename, create, copytruncate), deletes,
// compresses, truncates and refills log files at random while the agent runs
// against the Kinesis emulator, and kills it with SIGKILL or stops it with
// SIGTERM between rounds. Every complete line must be delivered; without a
// SIGKILL none twice, and after one only lines after the saved positions.
// KINESIS_AGENT_ROTATION_SEEDS sets how many seeds run (default 2).
func TestRotationFuzz(t *testing.T) {
	env := testbed.Get(t)
	seeds := 2
	if s, err := strconv.Atoi(os.Getenv("KINESIS_AGENT_ROTATION_SEEDS")); err == nil && s > 0 {
		seeds = s
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { rotationRun(t, env, seed) })
	}
}

func rotationRun(t *testing.T, env *testbed.Env, seed uint64) {
	r := &rotationRig{t: t, rng: rand.New(rand.NewPCG(seed, 42)), env: env, client: env.Kinesis(),
		stream: env.CreateStream(t, 2), dir: t.TempDir(), state: t.TempDir(),
		files: map[string]bool{}, safe: map[string]int{}}
	r.logPath = filepath.Join(r.state, "agent.log")
	allowKill := seed%2 == 1
	// Even seeds read app.log only (rotated files leave the pattern), odd seeds app.log*
	// (rotated files stay in it; compressed ones are skipped).
	r.pattern = r.app()
	if seed%2 == 1 {
		r.pattern = r.app() + "*"
	}
	cfg, _ := json.Marshal(map[string]any{
		"checkpointIntervalMillis": 200, "statusIntervalMillis": 5000, "shutdownTimeoutMillis": 20000, "log.level": "DEBUG",
		"flows": []map[string]any{{
			"filePattern": r.pattern, "kinesisStream": r.stream, "initialPosition": "START_OF_FILE",
			"minTimeBetweenFilePollsMillis": 50, "maxTimeBetweenFileTrackerRefreshMillis": 200,
			"partialLineTimeoutMillis": 1000, "maxBufferAgeMillis": 50,
		}},
	})
	r.cfg = filepath.Join(r.state, "agent.json")
	require.NoError(t, os.WriteFile(r.cfg, cfg, 0o644))
	require.NoError(t, os.WriteFile(r.app(), nil, 0o644))
	t.Cleanup(func() {
		if r.agent != nil {
			_ = r.agent.cmd.Process.Kill()
			<-r.agent.done
		}
		if t.Failed() {
			t.Logf("seed %d, pattern %s; operations:\n%s\nagent log tail:\n%s", seed, r.pattern, strings.Join(r.trace, "\n"), r.agentLog())
		}
	})

	r.start()
	time.Sleep(300 * time.Millisecond)
	synced := false
	for round := range 6 {
		if r.agent == nil {
			r.start()
			time.Sleep(300 * time.Millisecond)
		}
		if synced && r.rng.IntN(2) == 0 {
			r.refill()
			r.pause()
		}
		synced = false
		for range 4 + r.rng.IntN(10) {
			r.step()
		}
		switch end := r.rng.IntN(10); {
		case end < 3 && allowKill:
			r.stop(true)
			// Some work while the agent is down.
			for range r.rng.IntN(4) {
				r.step()
			}
		case end < 6:
			r.stop(false)
			for range r.rng.IntN(4) {
				r.step()
			}
		default:
			r.sync()
			synced = true
		}
		t.Logf("round %d: %d lines written, killed=%v", round, len(r.written), r.killed)
	}
	if r.agent == nil {
		r.start()
	}
	r.finishPartial()
	r.sync()
	r.stop(false)

	got := r.delivered()
	var twice []string
	for _, l := range r.written {
		require.NotZero(t, got[l], "line %q not delivered", l)
		n, protected := r.safe[l]
		if (!r.killed && got[l] > 1) || (protected && got[l] > n) {
			twice = append(twice, l)
		}
	}
	require.Empty(t, twice, "lines delivered again after they were confirmed (killed=%v): %d, e.g. %q", r.killed, len(twice), first(twice))
	extra := 0
	for l := range got {
		if !strings.HasPrefix(l, "l") {
			extra++
		}
	}
	require.Zero(t, extra, "records that are not whole lines")
	t.Logf("seed %d: %d lines, %d distinct delivered, killed=%v", seed, len(r.written), len(got), r.killed)
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
