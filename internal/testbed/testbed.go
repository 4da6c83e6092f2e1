package testbed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Region is the region the emulators' clients are configured with.
const Region = "us-east-1"

// ErrNodeMissing is returned by Start when node or npm is not installed.
var ErrNodeMissing = errors.New("testbed: Node.js 20+ and npm are required for the local Kinesis and DynamoDB emulators; install them (https://nodejs.org) and run `make test`")

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Dir is the npm project holding kinesis-local and dynalite (package.json and
	// package-lock.json). Default: $KINESIS_GO_LOCALAWS_DIR, else testdata/localaws under
	// the module root found from the working directory.
	Dir string
	// StartTimeout bounds the install and the wait for each emulator to answer. Default 60s.
	StartTimeout time.Duration
	// Logf receives progress lines (install, start, stop). Default: discard.
	Logf func(format string, args ...any)
}

// Env is a running pair of emulators.
type Env struct {
	// KinesisEndpoint and DynamoDBEndpoint are the base URLs (http://127.0.0.1:port).
	KinesisEndpoint  string
	DynamoDBEndpoint string

	cfg   aws.Config
	procs []*process
	once  sync.Once
	err   error
}

// Start installs the emulators when missing (npm ci), starts both on free loopback ports
// and waits until each answers. Close stops them.
func Start(ctx context.Context, opts Options) (*Env, error) {
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	ctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()

	dir, err := npmDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := Install(ctx, dir, opts.Logf); err != nil {
		return nil, err
	}
	preload, err := writePreload()
	if err != nil {
		return nil, err
	}

	env := &Env{}
	kin, err := startWithRetry(ctx, func(ports []int) (*process, error) {
		return startKinesis(dir, preload, ports[0], ports[1])
	}, 2, kinesisReady)
	if err != nil {
		return nil, fmt.Errorf("testbed: starting kinesis-mock: %w", err)
	}
	env.procs = append(env.procs, kin)
	env.KinesisEndpoint = kin.endpoint
	opts.Logf("testbed: kinesis-mock ready at %s (pid %d)", kin.endpoint, kin.cmd.Process.Pid)

	ddb, err := startWithRetry(ctx, func(ports []int) (*process, error) {
		return startDynalite(dir, preload, ports[0])
	}, 1, dynamoReady)
	if err != nil {
		env.Close()
		return nil, fmt.Errorf("testbed: starting dynalite: %w", err)
	}
	env.procs = append(env.procs, ddb)
	env.DynamoDBEndpoint = ddb.endpoint
	opts.Logf("testbed: dynalite ready at %s (pid %d)", ddb.endpoint, ddb.cmd.Process.Pid)

	env.cfg = aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}
	return env, nil
}

// Config returns an aws.Config for the emulators: static credentials and Region. Set the
// endpoint per client (the helpers below do) and wrap HTTPClient to inject faults.
func (e *Env) Config() aws.Config { return e.cfg.Copy() }

// Kinesis returns a Kinesis client for the local emulator. optFns run after the endpoint
// is set, so a test can replace HTTPClient or the retryer.
func (e *Env) Kinesis(optFns ...func(*kinesis.Options)) *kinesis.Client {
	return kinesis.NewFromConfig(e.Config(), append([]func(*kinesis.Options){func(o *kinesis.Options) {
		o.BaseEndpoint = aws.String(e.KinesisEndpoint)
	}}, optFns...)...)
}

// DynamoDB returns a DynamoDB client for the local emulator. optFns run after the endpoint
// is set.
func (e *Env) DynamoDB(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(e.Config(), append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(e.DynamoDBEndpoint)
	}}, optFns...)...)
}

// Close stops every emulator process (the whole process group) and waits until each is
// gone. It is safe to call more than once.
func (e *Env) Close() error {
	e.once.Do(func() {
		var errs []error
		for _, p := range e.procs {
			errs = append(errs, p.stop())
		}
		e.err = errors.Join(errs...)
	})
	return e.err
}

// Pids returns the process ids of the running emulators (for tests of the test bed).
func (e *Env) Pids() []int {
	var pids []int
	for _, p := range e.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// UniqueName returns prefix followed by a random suffix, valid as a stream or table name.
func UniqueName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}

// process is one emulator started by the test bed.
type process struct {
	name     string
	cmd      *exec.Cmd
	endpoint string
	output   *tailBuffer
	exited   chan struct{} // closed when the process has exited
	waitErr  error
}

func (p *process) stop() error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(3 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
			return fmt.Errorf("testbed: %s (pid %d) did not exit after SIGKILL", p.name, pgid)
		}
	}
	// Anything left in the group (none expected) is killed too.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return nil
}

func startProcess(name, dir string, env []string, endpoint string, args ...string) (*process, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, ErrNodeMissing
	}
	cmd := exec.Command(node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // Close kills the whole group
		Pdeathsig: syscall.SIGKILL, // and the kernel kills it if this process dies first
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, endpoint: endpoint, output: out, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

func startKinesis(dir, preload string, plainPort, tlsPort int) (*process, error) {
	cert := filepath.Join(dir, "node_modules", "kinesis-local", "server.json")
	env := []string{
		"KINESIS_MOCK_PLAIN_PORT=" + strconv.Itoa(plainPort),
		"KINESIS_MOCK_TLS_PORT=" + strconv.Itoa(tlsPort),
		"KINESIS_MOCK_CERT_PATH=" + cert,
		"CREATE_STREAM_DURATION=0ms",
		"DELETE_STREAM_DURATION=0ms",
		"SPLIT_SHARD_DURATION=0ms",
		"MERGE_SHARDS_DURATION=0ms",
		"UPDATE_SHARD_COUNT_DURATION=0ms",
		"REGISTER_STREAM_CONSUMER_DURATION=0ms",
		"DEREGISTER_STREAM_CONSUMER_DURATION=0ms",
		"SHARD_LIMIT=1000",
		"LOG_LEVEL=WARN",
	}
	return startProcess("kinesis-mock", dir, env, fmt.Sprintf("http://127.0.0.1:%d", plainPort),
		"--require", preload, filepath.Join(dir, "node_modules", "kinesis-local", "main.js"))
}

func startDynalite(dir, preload string, port int) (*process, error) {
	return startProcess("dynalite", dir, nil, fmt.Sprintf("http://127.0.0.1:%d", port),
		"--require", preload, filepath.Join(dir, "node_modules", "dynalite", "cli.js"),
		"--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
}

// startWithRetry starts a process on fresh free ports and waits until ready answers. A
// port taken between choosing and binding makes the process exit; that is retried.
func startWithRetry(ctx context.Context, start func(ports []int) (*process, error), nports int,
	ready func(ctx context.Context, endpoint string) error) (*process, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		ports, err := freePorts(nports)
		if err != nil {
			return nil, err
		}
		p, err := start(ports)
		if err != nil {
			return nil, err
		}
		err = waitReady(ctx, p, ready)
		if err == nil {
			return p, nil
		}
		_ = p.stop()
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func waitReady(ctx context.Context, p *process, ready func(context.Context, string) error) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ready(rctx, p.endpoint)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before answering (%v); its output:\n%s", p.name, p.waitErr, p.output.String())
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer at %s before the deadline (%w); last error: %v; its output:\n%s",
				p.name, p.endpoint, ctx.Err(), err, p.output.String())
		case <-tick.C:
		}
	}
}

// kinesisReady and dynamoReady send a cheap unsigned request; any HTTP answer means the
// server is up.
func kinesisReady(ctx context.Context, endpoint string) error {
	return httpAnswers(ctx, endpoint, "Kinesis_20131202.ListStreams", "application/x-amz-json-1.1")
}

func dynamoReady(ctx context.Context, endpoint string) error {
	return httpAnswers(ctx, endpoint, "DynamoDB_20120810.ListTables", "application/x-amz-json-1.0")
}

func httpAnswers(ctx context.Context, endpoint, target, contentType string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("testbed: finding a free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// preloadJS binds every server to 127.0.0.1 (kinesis-mock has no host option and would
// listen on all interfaces), survives clients that hang up mid-request, and exits when the
// parent process is gone, so no emulator outlives the test binary or demo that started it.
const preloadJS = `'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || typeof args[0] === 'string') {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');
    else args[1] = '127.0.0.1';
  } else if (args[0] && typeof args[0] === 'object' && args[0].port !== undefined) {
    args[0] = Object.assign({}, args[0], { host: '127.0.0.1' });
  }
  return listen.apply(this, args);
};
// dynalite throws an uncaught "aborted" (ECONNRESET) when a client closes a connection
// in the middle of a request, as a cancelled context or a killed worker does; that must
// not take the emulator down for every other test.
process.on('uncaughtException', (err) => {
  if (err && (err.code === 'ECONNRESET' || err.message === 'aborted')) return;
  console.error(err && err.stack ? err.stack : err);
  process.exit(1);
});
const parent = process.ppid;
setInterval(() => { if (process.ppid !== parent) process.exit(0); }, 500).unref();
`

func writePreload() (string, error) {
	dir := filepath.Join(os.TempDir(), "kinesis-go-testbed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	path := filepath.Join(dir, "loopback-preload.js")
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, []byte(preloadJS)) {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, "preload-*.js")
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	if _, err := tmp.WriteString(preloadJS); err != nil {
		tmp.Close()
		return "", fmt.Errorf("testbed: %w", err)
	}
	tmp.Close()
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	return path, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
