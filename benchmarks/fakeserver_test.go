package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/kinesistest"
)

// The HTTP fake Kinesis runs in a child process (this test binary started again
// with fakeServerEnv set), so that the CPU time and heap measured in the
// benchmark process are the client library's and the SDK's only: the server's
// JSON decoding, routing and sequence numbering happen elsewhere. The transport
// cost on the client side (SigV4 signing, JSON + base64 encoding, loopback HTTP)
// is identical for every library compared.
const fakeServerEnv = "KINESIS_GO_BENCH_FAKE"

// Server modes: discard keeps no data (throughput runs); store keeps it so
// that it can be read back (consumer runs).
const (
	modeDiscard = "discard"
	modeStore   = "store"
)

// serveFake is the child process: it serves a fresh kinesistest server over HTTP on a
// loopback port, prints the URL on stdout and serves until stdin is closed (by
// the parent, or by the parent's death).
func serveFake(mode string) int {
	srv, err := kinesistest.Start(func(o *kinesistest.Options) { o.DiscardData = mode == modeDiscard })
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake server:", err)
		return 1
	}
	url := srv.URL()
	if url == "" {
		fmt.Fprintln(os.Stderr, "fake server: no loopback port")
		return 1
	}
	fmt.Println(url)
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// fakeServer is a running child fake.
type fakeServer struct {
	URL   string
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

func startFakeServer(mode string) (*fakeServer, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fakeServerEnv+"="+mode)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the fake Kinesis server: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "http://") {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("fake Kinesis server did not start: %q %v", line, err)
	}
	return &fakeServer{URL: strings.TrimSpace(line), cmd: cmd, stdin: stdin}, nil
}

func (s *fakeServer) stop() {
	_ = s.stdin.Close()
	_ = s.cmd.Wait()
}

// One server per mode per benchmark process, stopped by TestMain. Streams
// have unique names, so benchmarks do not see each other's.
var sharedFakes struct {
	sync.Mutex
	servers map[string]*fakeServer
}

func sharedFake(tb testing.TB, mode string) *fakeServer {
	tb.Helper()
	sharedFakes.Lock()
	defer sharedFakes.Unlock()
	if s := sharedFakes.servers[mode]; s != nil {
		return s
	}
	s, err := startFakeServer(mode)
	if err != nil {
		tb.Fatal(err)
	}
	if sharedFakes.servers == nil {
		sharedFakes.servers = make(map[string]*fakeServer)
	}
	sharedFakes.servers[mode] = s
	return s
}

func stopSharedFakes() {
	sharedFakes.Lock()
	defer sharedFakes.Unlock()
	for mode, s := range sharedFakes.servers {
		s.stop()
		delete(sharedFakes.servers, mode)
	}
}

// wireCounter counts the bytes of PutRecords request bodies sent over HTTP.
type wireCounter struct {
	putBytes atomic.Int64
	putCalls atomic.Int64
}

type countingTransport struct {
	base http.RoundTripper
	c    *wireCounter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.c != nil && strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".PutRecords") {
		t.c.putCalls.Add(1)
		if req.ContentLength > 0 {
			t.c.putBytes.Add(req.ContentLength)
		} else if req.Body != nil && req.Body != http.NoBody {
			req = req.Clone(req.Context())
			req.Body = &countingBody{ReadCloser: req.Body, n: &t.c.putBytes}
		}
	}
	return t.base.RoundTrip(req)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// newHTTPClient returns a real *kinesis.Client for url (the SDK's default
// retryer; static credentials: requests are signed as for AWS), counting
// PutRecords bytes into wc when it is not nil. close releases its connections.
func newHTTPClient(url string, wc *wireCounter) (client *kinesis.Client, close func()) {
	tr := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	client = kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:   &http.Client{Transport: kinesistest.SafeBodyTransport(countingTransport{base: tr, c: wc})},
	})
	return client, tr.CloseIdleConnections
}

var streamSeq atomic.Int64

// uniqueStream returns a stream name no other run of this process uses.
func uniqueStream(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), streamSeq.Add(1))
}

// streamCreator is the part of *kinesis.Client and *kinesistest.Kinesis that
// creates and deletes streams.
type streamCreator interface {
	CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error)
	DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, optFns ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error)
}

// createStream creates a stream (ACTIVE at once on the fake) and deletes it
// when tb ends.
func createStream(tb testing.TB, c streamCreator, name string, shards int) {
	tb.Helper()
	ctx := context.Background()
	if _, err := c.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(int32(shards))}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = c.DeleteStream(context.Background(), &kinesis.DeleteStreamInput{StreamName: aws.String(name)})
	})
}
