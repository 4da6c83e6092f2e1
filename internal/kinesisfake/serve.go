package kinesisfake

import (
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Serve starts an HTTP server for Handler on a loopback port and returns a
// real *kinesis.Client for it (region us-east-1, static credentials, the SDK's
// default retryer; optFns run last and may change anything) and a stop
// function that closes the client's connections and the server. Call stop
// before the test ends: the server's goroutines live until then.
func (k *Kinesis) Serve(optFns ...func(*kinesis.Options)) (client *kinesis.Client, stop func()) {
	srv := httptest.NewServer(k.Handler())
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	opts := kinesis.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("kinesisfake", "kinesisfake", ""),
		HTTPClient:   &http.Client{Transport: SafeBodyTransport(tr)},
	}
	client = kinesis.New(opts, optFns...)
	return client, func() {
		tr.CloseIdleConnections()
		srv.Close()
	}
}

// SafeBodyTransport wraps base (nil: http.DefaultTransport) so that request
// bodies do not expose io.WriterTo. It works around a race that a fast server
// such as this fake's Handler triggers in aws-sdk-go-v2 clients: net/http may
// close the request body as soon as the response arrives while it still
// checks the body for extra bytes, and smithy-go's request body wrapper then
// returns io.EOF from WriteTo, which net/http takes as a write error and
// answers by closing the connection under the response being read ("use of
// closed network connection"). Serve uses it; use it when you build your own
// client for Handler.
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

// readCloserOnly hides every method but Read and Close.
type readCloserOnly struct{ io.ReadCloser }
