package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Options configures a Server. The zero value of every field means its
// documented default.
type Options struct {
	// Now is the clock behind ApproximateArrivalTimestamp, AT_TIMESTAMP
	// iterators, ListShards time filters, iterator expiry, retention,
	// MillisBehindLatest and the Limits token buckets. Default time.Now, which
	// inside a testing/synctest bubble is the bubble's fake clock. Set your own
	// clock to move time by hand. Waits (SubscribeToShard pacing, its 5-minute
	// limit, Call.Sleep) always use the time package's timers.
	Now func() time.Time

	// Limits, when set, enforces the per-shard limits of Kinesis Data Streams
	// (see Limits). Default nil: no limits, like every local emulator.
	Limits *Limits

	// DiscardData makes PutRecord(s) validate, route and number records as
	// usual but keep none of them, so memory stays flat in long benchmarks.
	// Readers then see empty shards. Default false.
	DiscardData bool

	// MaxRecordSize is the largest data plus partition key size, in bytes, of
	// one record in a stream created without MaxRecordSizeInKiB. Default 1 MiB
	// (AWS).
	MaxRecordSize int

	// MaxPutRecordsSize is the largest total data plus partition key size of one
	// PutRecords call. Default 5 MiB (AWS). Raise it only to benchmark batches
	// AWS would reject.
	MaxPutRecordsSize int

	// MaxGetRecordsSize caps the data bytes one GetRecords call returns (at
	// least one record is always returned). Default 10 MiB (AWS).
	MaxGetRecordsSize int

	// IteratorTTL is how long shard iterators and ListShards NextTokens stay
	// valid, measured on the Now clock. Default 5 minutes (AWS).
	IteratorTTL time.Duration

	// SubscriptionDuration is how long a SubscribeToShard event stream lasts
	// before the server ends it, measured with the time package's timers.
	// Default 5 minutes (AWS). Shorten it to exercise resubscription in a
	// test that does not run in a testing/synctest bubble.
	SubscriptionDuration time.Duration

	// Region and AccountID go into ARNs and error messages, and Region into
	// the clients Client returns. Defaults "us-east-1" and "000000000000".
	Region, AccountID string
}

// validate resolves the defaults and rejects values that make no sense.
func (o *Options) validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"MaxRecordSize", o.MaxRecordSize}, {"MaxPutRecordsSize", o.MaxPutRecordsSize}, {"MaxGetRecordsSize", o.MaxGetRecordsSize}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("option %s is %d: want 0 (the AWS default) or a positive size in bytes", f.name, f.v))
		}
	}
	if o.IteratorTTL < 0 {
		errs = append(errs, fmt.Errorf("option IteratorTTL is %v: want 0 (5 minutes) or a positive duration", o.IteratorTTL))
	}
	if o.SubscriptionDuration < 0 {
		errs = append(errs, fmt.Errorf("option SubscriptionDuration is %v: want 0 (5 minutes) or a positive duration", o.SubscriptionDuration))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("kinesistest: %w", err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Limits != nil {
		l := o.Limits.resolved()
		o.Limits = &l
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = DefaultMaxRecordSize
	}
	if o.MaxPutRecordsSize == 0 {
		o.MaxPutRecordsSize = DefaultMaxPutRecordsSize
	}
	if o.MaxGetRecordsSize == 0 {
		o.MaxGetRecordsSize = DefaultMaxGetRecordsSize
	}
	if o.IteratorTTL == 0 {
		o.IteratorTTL = DefaultIteratorTTL
	}
	if o.SubscriptionDuration == 0 {
		o.SubscriptionDuration = DefaultSubscriptionDuration
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	return nil
}

// Server is an in-process Kinesis Data Streams serving the Kinesis API over
// HTTP. Create it with NewServer in a test (Start elsewhere); it is safe for
// concurrent use.
//
// Client returns a real *kinesis.Client connected to it through in-memory
// connections (full HTTP/1.1, no sockets), so a test can run inside a
// testing/synctest bubble. URL serves the same API on a loopback port for
// anything that needs an address.
type Server struct {
	k     *Kinesis
	pipe  *pipeListener
	http  *http.Server
	tr    *http.Transport
	serve sync.WaitGroup // the Serve loops
	calls sync.WaitGroup // requests being handled
	done  chan struct{}  // closed by Close: ends subscriptions

	mu     sync.Mutex
	closed bool
	client *kinesis.Client
	tcp    *http.Server
	url    string
}

// NewServer starts a Server for the test t and closes it when the test ends
// (t.Cleanup). It fails the test if optFns set invalid Options.
func NewServer(t testing.TB, optFns ...func(*Options)) *Server {
	t.Helper()
	s, err := Start(optFns...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Start starts a Server outside a test (a godoc example, a local program):
// call Close when done. In tests use NewServer, which closes it for you.
func Start(optFns ...func(*Options)) (*Server, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		k:    newKinesis(o),
		pipe: newPipeListener(),
		done: make(chan struct{}),
	}
	s.k.done, s.k.srv = s.done, s
	s.http = &http.Server{Handler: s.handler(), ErrorLog: discardLog}
	s.tr = &http.Transport{
		DialContext:         s.pipe.dial,
		MaxIdleConnsPerHost: 64,
		DisableCompression:  true,
	}
	return s, nil
}

// handler counts the requests in flight so that Close can wait for them.
func (s *Server) handler() http.Handler {
	h := s.k.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		defer s.calls.Done()
		h.ServeHTTP(w, r)
	})
}

// Client returns a *kinesis.Client for the server: region Options.Region,
// static credentials, the SDK's default retryer, and an HTTP client whose
// connections are in memory. Every call returns the same client. To change
// its options, make a new one: kinesis.New(s.Client().Options(), optFns...).
//
// Concurrent SubscribeToShard calls on one SDK client share its event-stream
// decoder (smithy-go v1.28.9) and race; give each call its own protocol, as
// this module's consumer does:
//
//	client.SubscribeToShard(ctx, in, func(o *kinesis.Options) { o.Protocol = awsjson.New11(schemas.Kinesis_20131202) })
func (s *Server) Client() *kinesis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		if !s.closed {
			// Served from the first Client on, so that a server used only
			// through Kinesis runs no goroutine.
			s.serve.Add(1)
			go func() {
				defer s.serve.Done()
				_ = s.http.Serve(s.pipe)
			}()
		}
		s.client = kinesis.New(kinesis.Options{
			Region:       s.k.opts.Region,
			BaseEndpoint: aws.String("http://kinesistest.invalid"),
			Credentials:  credentials.NewStaticCredentialsProvider("kinesistest", "kinesistest", ""),
			HTTPClient:   &http.Client{Transport: SafeBodyTransport(s.tr)},
		})
	}
	return s.client
}

// URL returns the base URL of the same API served on a loopback TCP port
// (http://127.0.0.1:port), starting that listener on the first call. Use it
// for a client built by hand (set its BaseEndpoint, any static credentials,
// and SafeBodyTransport) or for another process. Inside a testing/synctest
// bubble use Client instead: a socket is not durably blocking. It returns ""
// when no loopback port can be opened or the server is closed.
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.url != "" || s.closed {
		return s.url
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return ""
	}
	s.tcp = &http.Server{Handler: s.handler(), ErrorLog: discardLog}
	s.url = "http://" + ln.Addr().String()
	s.serve.Add(1)
	go func() {
		defer s.serve.Done()
		_ = s.tcp.Serve(ln)
	}()
	return s.url
}

// Kinesis returns the server's in-process API: the methods of *kinesis.Client
// that the server implements, called directly, without HTTP or serialization.
// It satisfies the client interfaces of this module's producer and consumer.
// Controls, Limits and Stats apply to it as to Client. Use it where the HTTP
// round trip would dominate (benchmarks); tests should use Client, which also
// exercises the SDK's serialization, retries and event streams.
// SubscribeToShard is only served over HTTP (the SDK's output type cannot be
// built outside the SDK).
func (s *Server) Kinesis() *Kinesis { return s.k }

// CreateStream creates a PROVISIONED stream with shards shards, ACTIVE at
// once. It fails like AWS for an invalid name, a shard count below 1, or an
// existing stream (*types.ResourceInUseException).
func (s *Server) CreateStream(name string, shards int) error {
	_, err := s.k.CreateStream(context.Background(), &kinesis.CreateStreamInput{
		StreamName: aws.String(name),
		ShardCount: aws.Int32(int32(min(shards, 1<<30))),
	})
	if err != nil {
		return fmt.Errorf("kinesistest: creating stream %s: %w", name, err)
	}
	return nil
}

// Close ends every subscription, closes every connection and waits for the
// server's goroutines. Calls after Close fail. It is idempotent and returns
// nil.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	tcp := s.tcp
	s.mu.Unlock()

	close(s.done)
	_ = s.pipe.Close()
	_ = s.http.Close()
	if tcp != nil {
		_ = tcp.Close()
	}
	s.tr.CloseIdleConnections()
	s.serve.Wait()
	s.calls.Wait()
	return nil
}

// SafeBodyTransport wraps base (nil: http.DefaultTransport) so that request
// bodies do not expose io.WriterTo. It works around a race that a fast server
// such as this one triggers in aws-sdk-go-v2 clients: net/http may close the
// request body as soon as the response arrives while it still checks the
// body for extra bytes, and smithy-go's request body wrapper then returns
// io.EOF from WriteTo, which net/http takes as a write error and answers by
// closing the connection under the response being read ("use of closed
// network connection"). Client uses it; use it when you build your own client
// for URL.
func SafeBodyTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return safeBodyTransport{base}
}

type safeBodyTransport struct{ base http.RoundTripper }

func (t safeBodyTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		if _, ok := req.Body.(io.WriterTo); ok {
			r := req.Clone(req.Context())
			r.Body = readCloserOnly{req.Body}
			req = r
		}
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach base.
func (t safeBodyTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// readCloserOnly hides every method but Read and Close.
type readCloserOnly struct{ io.ReadCloser }
