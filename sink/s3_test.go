package sink

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/consumer"
)

// localS3 is an in-process S3 (gofakes3) served over loopback HTTP, with injectable
// faults on object writes.
type localS3 struct {
	URL    string
	Client *s3.Client
	srv    *httptest.Server

	mu     sync.Mutex
	faults []s3Fault     // applied to the next writes, in order
	writes int           // write requests seen
	slow   time.Duration // every write without a fault is answered after this delay
}

// s3Fault is what the server does to one write request.
type s3Fault struct {
	status int           // answer this HTTP status (with an S3 error body)
	code   string        // the error code of that body; default SlowDown
	hang   bool          // never answer: the client's attempt times out
	delay  time.Duration // answer normally after this delay
}

func newLocalS3(t testing.TB, bucket string) *localS3 {
	t.Helper()
	faker := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true), gofakes3.WithLogger(gofakes3.DiscardLog()))
	l := &localS3{}
	inner := faker.Server()
	l.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut || r.Method == http.MethodPost {
			if f, ok := l.nextFault(); ok {
				switch {
				case f.status != 0:
					_, _ = io.Copy(io.Discard, r.Body)
					code := f.code
					if code == "" {
						code = "SlowDown"
					}
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(f.status)
					fmt.Fprintf(w, "<Error><Code>%s</Code><Message>injected %d</Message></Error>", code, f.status)
					return
				case f.hang:
					_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client giving up
					<-r.Context().Done()
					return
				case f.delay > 0:
					select {
					case <-time.After(f.delay):
					case <-r.Context().Done():
						return
					}
				}
			}
		}
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(l.srv.Close)
	l.URL = l.srv.URL
	l.Client = s3.New(s3.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(l.URL),
		UsePathStyle: true,
	})
	if _, err := l.Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *localS3) inject(f ...s3Fault) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.faults = append(l.faults, f...)
}

func (l *localS3) nextFault() (s3Fault, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	if len(l.faults) == 0 {
		return s3Fault{delay: l.slow}, l.slow > 0
	}
	f := l.faults[0]
	l.faults = l.faults[1:]
	return f, true
}

// objects reads every object of the bucket outside the state prefix.
func (l *localS3) objects(t testing.TB, bucket string) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	out := map[string][]byte{}
	p := s3.NewListObjectsV2Paginator(l.Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			if strings.HasPrefix(*o.Key, DefaultStatePrefix) {
				continue
			}
			obj, err := l.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out[*o.Key] = decompress(t, *o.Key, b)
		}
	}
	return out
}

func TestS3RoundTrip(t *testing.T) {
	l := newLocalS3(t, "archive")
	d := NewS3(l.Client, "archive")
	ctx := context.Background()
	if _, err := d.Get(ctx, "none"); !errorsIsNotFound(err) {
		t.Fatalf("Get of a missing object: %v, want ErrNotFound", err)
	}
	if err := d.Put(ctx, "a/b.json", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, err := d.Get(ctx, "a/b.json"); err != nil || string(b) != "x" {
		t.Fatalf("Get: %q, %v", b, err)
	}
}

func TestS3AccessDeniedNamesThePermission(t *testing.T) {
	l := newLocalS3(t, "archive")
	l.inject(s3Fault{status: 403, code: "AccessDenied"})
	err := NewS3(l.Client, "archive").Put(context.Background(), "a.json", []byte("x"))
	var denied *AccessDeniedError
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &denied) || denied.Action != "s3:PutObject" ||
		!strings.Contains(err.Error(), "grant s3:PutObject on s3://archive/a.json") {
		t.Errorf("Put: %v, want an AccessDeniedError naming s3:PutObject", err)
	}
}

// Large objects go up in a multipart upload.
func TestS3MultipartUpload(t *testing.T) {
	l := newLocalS3(t, "archive")
	d := NewS3(l.Client, "archive")
	body := []byte(strings.Repeat("0123456789abcdef", 20<<20/16)) // 20 MiB, above the 16 MiB threshold
	if err := d.Put(context.Background(), "big.json", body); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(context.Background(), "big.json")
	if err != nil || len(got) != len(body) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
	if l.writes < 3 {
		t.Errorf("%d write requests, want a multipart upload (create, parts, complete)", l.writes)
	}
}

// 5xx answers, attempts that time out and slow uploads: every record ends up in the
// bucket exactly once, nothing is checkpointed before its object is stored, and the
// shard waits meanwhile.
func TestS3FailuresLoseNothing(t *testing.T) {
	l := newLocalS3(t, "archive")
	s, err := newSink(NewS3(l.Client, "archive"), []func(*Options){func(o *Options) {
		o.StreamName = "s"
		o.BufferSize = 40
		o.BufferInterval = time.Hour
		o.WriteTimeout = 300 * time.Millisecond
		o.MaxRetryBackoff = 50 * time.Millisecond
		o.Compression = CompressionZstd
		o.Logger = discardLogger
	}})
	if err != nil {
		t.Fatal(err)
	}
	p := s.newProcessor(testShard)
	ctx := context.Background()
	if err := p.Initialize(ctx, consumer.InitializeInput{Checkpoint: checkpoint.PositionTrimHorizon}); err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	l.inject(
		s3Fault{status: 503}, s3Fault{status: 500}, s3Fault{hang: true},
		s3Fault{delay: 100 * time.Millisecond}, s3Fault{status: 503}, s3Fault{hang: true}, s3Fault{delay: 200 * time.Millisecond},
	)
	cp := &fakeCheckpointer{}
	const n = 100
	var want []string
	for i := 1; i <= n; i += 10 {
		rs := recs(i, i+9, func(n int) string { return fmt.Sprintf(`{"id":%d}`, n) })
		if err := p.ProcessRecords(ctx, consumer.ProcessRecordsInput{Records: rs, Checkpointer: cp}); err != nil {
			t.Fatal(err)
		}
		// Memory: the shard holds less than one object's worth; the rest waits in
		// Kinesis, because ProcessRecords does not return while a write fails.
		if p.size >= s.cfg.BufferSize {
			t.Fatalf("the shard holds %d bytes after ProcessRecords returned, BufferSize is %d", p.size, s.cfg.BufferSize)
		}
		// ProcessRecords returned: every batch it cut is in the bucket and checkpointed.
		if last := cp.last(); !last.IsZero() {
			stored := recordsIn(t, l.objects(t, "archive"))
			if got := lastID(t, stored); fmt.Sprint(got) != strings.TrimLeft(strings.TrimPrefix(last.SequenceNumber, seq(0)[:50]), "0") {
				t.Fatalf("checkpoint %s but the bucket holds records up to %d", last, got)
			}
		}
		for j := i; j <= i+9; j++ {
			want = append(want, fmt.Sprintf(`{"id":%d}`, j))
		}
	}
	if err := p.ShutdownRequested(ctx, consumer.ShutdownRequestedInput{Checkpointer: cp}); err != nil {
		t.Fatal(err)
	}
	got := recordsIn(t, l.objects(t, "archive"))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bucket holds %d records, want %d, each once", len(got), len(want))
	}
	if cp.last().SequenceNumber != seq(n) {
		t.Errorf("final checkpoint %v, want record %d", cp.last(), n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.faults) != 0 {
		t.Errorf("%d injected faults were not reached", len(l.faults))
	}
}

func lastID(t *testing.T, lines []string) int {
	t.Helper()
	maxID := 0
	for _, l := range lines {
		var id int
		if _, err := fmt.Sscanf(l, `{"id":%d}`, &id); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		maxID = max(maxID, id)
	}
	return maxID
}
