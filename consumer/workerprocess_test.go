package consumer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// helperEnv, when set in the environment of the test binary, makes it run one consumer
// worker (configured by the JSON helperConfig in the variable) instead of the tests. The
// crash test starts such a process and kills it with SIGKILL.
const helperEnv = "CONSUMER_TEST_HELPER"

type helperConfig struct {
	KinesisEndpoint  string
	DynamoDBEndpoint string
	Stream           string
	Table            string
	Worker           string
	FailoverTime     time.Duration
	// Concurrency > 0 runs a per-record handler (NewRecordFunc) with that concurrency
	// and a random 0-5 ms per record, instead of NewFunc.
	Concurrency int
	// PoisonData, when set, makes the handler fail every batch holding the record with
	// this data, with BisectOnError and NoRetries; OnFailure reports it as a DLQ line.
	PoisonData string
}

// runHelperIfAsked runs the helper worker when the test binary was started as one; it
// reports whether it did (it only returns when the worker stops).
func runHelperIfAsked() bool {
	raw := os.Getenv(helperEnv)
	if raw == "" {
		return false
	}
	var cfg helperConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "helper config:", err)
		os.Exit(2)
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	kc := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(cfg.KinesisEndpoint) })
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint) })
	store, err := checkpoint.NewDynamoDB(ddb, cfg.Table)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fn := func(ctx context.Context, shardID string, records []Record) error {
		out.Lock()
		defer out.Unlock()
		for _, r := range records {
			// Reported before the checkpoint: whatever is checkpointed was reported.
			fmt.Fprintf(w, "REC %s %s %d %s\n", shardID, r.SequenceNumber, r.SubSequenceNumber, r.Data)
		}
		return w.Flush()
	}
	if cfg.PoisonData != "" {
		accept := fn
		fn = func(ctx context.Context, shardID string, records []Record) error {
			for _, r := range records {
				if string(r.Data) == cfg.PoisonData {
					return errPoison
				}
			}
			return accept(ctx, shardID, records)
		}
	}
	process := NewFunc(fn)
	if cfg.Concurrency > 0 {
		process = NewRecordFunc(func(ctx context.Context, r Record) error {
			if !sleep(ctx, time.Duration(rand.IntN(5001))*time.Microsecond) {
				return ctx.Err()
			}
			return fn(ctx, r.ShardID, []Record{r})
		})
	}
	c, err := New(kc, cfg.Stream, store, process, func(o *Options) {
		o.Concurrency = cfg.Concurrency
		o.CheckpointInterval = 200 * time.Millisecond
		o.WorkerID = cfg.Worker
		o.FailoverTime = cfg.FailoverTime
		o.IdleTimeBetweenReads = 100 * time.Millisecond
		o.InitialPosition = InitialPositionTrimHorizon
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if cfg.PoisonData != "" {
			o.BisectOnError = true
			o.MaxRetries = NoRetries
			o.OnFailure = func(ctx context.Context, f FailedRecord) error {
				out.Lock()
				defer out.Unlock()
				fmt.Fprintf(w, "DLQ %s %s %d %s\n", f.ShardID, f.Record.SequenceNumber, f.Record.SubSequenceNumber, f.Record.Data)
				return w.Flush()
			}
		}
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if err := c.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

// helperProcess is a worker running in another OS process.
type helperProcess struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when its output is fully read
	stderr bytes.Buffer
}

// startHelper starts a worker process whose deliveries go to r.
func startHelper(t *testing.T, cfg helperConfig, r *recorder) *helperProcess {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	h := &helperProcess{cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = &h.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(h.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 5 && f[0] == "DLQ" {
				r.event("dlq %s %s", cfg.Worker, f[4])
				continue
			}
			if len(f) != 5 || f[0] != "REC" {
				continue
			}
			sub, _ := strconv.ParseInt(f[3], 10, 64)
			r.add(cfg.Worker, f[1], []Record{{ShardID: f[1], SequenceNumber: f[2], SubSequenceNumber: sub, Data: []byte(f[4])}})
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-h.done
		_ = cmd.Wait()
		if t.Failed() && h.stderr.Len() > 0 {
			t.Logf("helper %s stderr:\n%s", cfg.Worker, h.stderr.String())
		}
	})
	return h
}

// killHard kills the process with SIGKILL and waits until its output is read.
func (h *helperProcess) killHard(t *testing.T) {
	t.Helper()
	if err := h.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-h.done
}

// detachedProxy forwards HTTP requests to target and lets each forwarded request finish
// even if its client disappears (dynalite crashes when a client aborts a request, which a
// killed process does).
func detachedProxy(target string) http.Handler {
	client := &http.Client{}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return // the client died before its request was complete: forward nothing
		}
		up, err := http.NewRequestWithContext(context.WithoutCancel(req.Context()), req.Method, target+req.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		up.Header = req.Header.Clone()
		resp, err := client.Do(up)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
}
