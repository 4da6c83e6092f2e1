package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// workerEnv, when set, makes the test binary run one archiving worker (a consumer with
// the sink, configured by the JSON workerConfig in the variable) instead of the tests,
// until SIGTERM. The crash test starts such processes and kills them with SIGKILL.
const workerEnv = "SINK_TEST_WORKER"

type workerConfig struct {
	KinesisEndpoint, DynamoDBEndpoint, S3Endpoint string
	Stream, Table, Bucket, Worker                 string
	FailoverTime                                  time.Duration
}

func runWorkerIfAsked() bool {
	raw := os.Getenv(workerEnv)
	if raw == "" {
		return false
	}
	var cfg workerConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "worker config:", err)
		os.Exit(2)
	}
	awsCfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("local", "local", "")}
	kc := kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) { o.BaseEndpoint = aws.String(cfg.KinesisEndpoint) })
	ddb := dynamodb.NewFromConfig(awsCfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint) })
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.BaseEndpoint = aws.String(cfg.S3Endpoint); o.UsePathStyle = true })
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := checkpoint.NewDynamoDB(ddb, cfg.Table)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	archive := New(NewS3(s3c, cfg.Bucket), func(o *Options) {
		o.StreamName = cfg.Stream
		o.Prefix = "trades/part=!{partitionKeyFromQuery:part}/!{timestamp:yyyy/MM/dd}/"
		o.PartitionKeyQueries = map[string]string{"part": ".part"}
		o.BufferSize = 1 << 20 // batches are cut by the interval: by timing, which a restart does not repeat
		o.WriteConcurrency = 1
		o.BufferInterval = 300 * time.Millisecond
		o.Compression = CompressionGzip
		o.MaxRetryBackoff = 200 * time.Millisecond
		o.Logger = logger
	})
	c, err := consumer.New(kc, cfg.Stream, store, archive, func(o *consumer.Options) {
		o.WorkerID = cfg.Worker
		o.FailoverTime = cfg.FailoverTime
		o.IdleTimeBetweenReads = 100 * time.Millisecond
		o.MaxRecords = 200
		o.InitialPosition = consumer.InitialPositionTrimHorizon
		o.Logger = logger
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
	return true
}

type workerProcess struct {
	name   string
	cmd    *exec.Cmd
	stderr *bytes.Buffer
}

func startWorker(t *testing.T, cfg workerConfig) *workerProcess {
	t.Helper()
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerEnv+"="+string(raw))
	w := &workerProcess{name: cfg.Worker, cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = w.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() && w.stderr.Len() > 0 {
			t.Logf("worker %s stderr:\n%s", w.name, w.stderr)
		}
	})
	return w
}

// Workers archiving a stream are killed with SIGKILL, mid-object, again and again while
// records keep coming, and replaced; the survivors take their shards over. In the end the
// bucket holds every record exactly once: no object is duplicated or overlaps another,
// none is missing.
func TestKilledWorkersLeaveEveryRecordExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts emulators and worker processes")
	}
	env := testbed.Get(t)
	stream := env.CreateStream(t, 3)
	l := newLocalS3(t, "archive")
	l.slow = 30 * time.Millisecond // widens the moments where a batch is partly written
	cfg := workerConfig{
		KinesisEndpoint: env.KinesisEndpoint, DynamoDBEndpoint: env.DynamoDBEndpoint, S3Endpoint: l.URL,
		Stream: stream, Table: testbed.UniqueName("sinkleases"), Bucket: "archive", FailoverTime: time.Second,
	}
	const total = 3000
	kc := env.Kinesis()
	ctx := context.Background()
	var putErr error
	var putting sync.WaitGroup
	putting.Go(func() {
		for i := 0; i < total && putErr == nil; i += 100 {
			var entries []types.PutRecordsRequestEntry
			for j := i; j < i+100; j++ {
				entries = append(entries, types.PutRecordsRequestEntry{
					Data: []byte(fmt.Sprintf(`{"id":%d,"part":%d,"pad":%q}`, j, j%4, strings.Repeat("x", 40))), PartitionKey: aws.String(fmt.Sprint(j)),
				})
			}
			for len(entries) > 0 && putErr == nil {
				out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries})
				if err != nil {
					putErr = err
					break
				}
				var again []types.PutRecordsRequestEntry
				for k, r := range out.Records {
					if r.ErrorCode != nil {
						again = append(again, entries[k])
					}
				}
				entries = again
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	n := 0
	start := func() *workerProcess {
		n++
		c := cfg
		c.Worker = fmt.Sprintf("w%d", n)
		return startWorker(t, c)
	}
	live := []*workerProcess{start(), start()}
	for round := 0; round < 6; round++ {
		time.Sleep(time.Duration(1000+rand.IntN(1000)) * time.Millisecond)
		victim := live[round%2]
		if err := victim.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = victim.cmd.Wait()
		live[round%2] = start()
	}
	putting.Wait()
	if putErr != nil {
		t.Fatal(putErr)
	}

	deadline := time.Now().Add(90 * time.Second)
	var lines []string
	for {
		lines = recordsIn(t, l.objects(t, "archive"))
		if len(lines) >= total || time.Now().After(deadline) || t.Failed() {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	for _, w := range live {
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		_ = w.cmd.Wait()
	}
	lines = recordsIn(t, l.objects(t, "archive")) // reports any record held twice
	seen := make(map[int]bool, total)
	for _, line := range lines {
		var r struct{ ID int }
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		seen[r.ID] = true
	}
	missing := 0
	for i := 0; i < total; i++ {
		if !seen[i] {
			missing++
		}
	}
	t.Logf("%d workers started, %d killed with SIGKILL; %d objects, %d records", n, n-2, len(l.objects(t, "archive")), len(lines))
	if missing > 0 || len(lines) != total {
		t.Errorf("%d records in the bucket, %d missing, want each of %d exactly once", len(lines), missing, total)
	}
}
