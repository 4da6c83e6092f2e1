package faults

import (
	"bytes"
	"encoding/binary"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// SubscribeShim wraps next (a clone of http.DefaultTransport when nil) so that
// SubscribeToShard works against kinesis-mock: AWS starts the event stream with an
// "initial-response" event, kinesis-mock does not, and the SDK then fails with "expected
// initial-response, got SubscribeToShardEvent". The shim inserts an empty initial-response
// event before the first event unless the stream already starts with one. Every other
// request passes untouched. An Injector includes it (Options.DisableSubscribeShim).
//
// kinesis-mock serves SubscribeToShard over plain HTTP/1.1, so the SDK's default HTTP
// client setup works: only the transport needs wrapping, see SubscribeClientOptions.
func SubscribeShim(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	return shimTransport{next}
}

type shimTransport struct{ next http.RoundTripper }

func (s shimTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := s.next.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK ||
		req.Header.Get("X-Amz-Target") != "Kinesis_20131202.SubscribeToShard" {
		return resp, err
	}
	resp.Body = newShimBody(resp.Body)
	resp.ContentLength = -1
	resp.Header.Del("Content-Length")
	return resp, nil
}

func (s shimTransport) CloseIdleConnections() {
	if c, ok := s.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// shimBody yields an initial-response event, then the wrapped event stream. It looks at
// the stream's first message (read on the first Read) to avoid a second initial-response.
type shimBody struct {
	body    io.ReadCloser
	checked bool
	pending bytes.Reader
}

func newShimBody(body io.ReadCloser) io.ReadCloser { return &shimBody{body: body} }

// maxPeek bounds the first message the shim buffers; a larger one is passed through.
const maxPeek = 16 << 20

func (s *shimBody) Read(p []byte) (int, error) {
	if !s.checked {
		s.checked = true
		first, err := readMessage(s.body)
		if len(first) == 0 && err != nil {
			return 0, err
		}
		var buf []byte
		if err == nil && needsInitialResponse(first) {
			buf = append(buf, initialResponse()...)
		}
		buf = append(buf, first...)
		s.pending.Reset(buf)
		if err != nil {
			// Hand back what was read; the next Read reports the error again.
			n, _ := s.pending.Read(p)
			return n, nil
		}
	}
	if s.pending.Len() > 0 {
		return s.pending.Read(p)
	}
	return s.body.Read(p)
}

func (s *shimBody) Close() error { return s.body.Close() }

// readMessage reads one event-stream message (or, on error or when it is larger than
// maxPeek, what it read of it).
func readMessage(r io.Reader) ([]byte, error) {
	var prelude [4]byte
	n, err := io.ReadFull(r, prelude[:])
	if err != nil {
		return prelude[:n], err
	}
	total := binary.BigEndian.Uint32(prelude[:])
	if total < 16 || total > maxPeek {
		return prelude[:], nil
	}
	msg := make([]byte, total)
	copy(msg, prelude[:])
	n, err = io.ReadFull(r, msg[4:])
	return msg[:4+n], err
}

// needsInitialResponse reports whether raw is an event other than initial-response.
func needsInitialResponse(raw []byte) bool {
	msg, err := eventstream.NewDecoder().Decode(bytes.NewReader(raw), nil)
	if err != nil {
		return false
	}
	mt := msg.Headers.Get(":message-type")
	et := msg.Headers.Get(":event-type")
	if mt == nil || et == nil || mt.String() != "event" {
		return false
	}
	return !strings.EqualFold(et.String(), "initial-response")
}

func initialResponse() []byte {
	var buf bytes.Buffer
	msg := eventstream.Message{
		Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue("initial-response")},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
			{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		},
		Payload: []byte("{}"),
	}
	if err := eventstream.NewEncoder().Encode(&buf, msg); err != nil {
		return nil // cannot happen: the message is constant and valid
	}
	return buf.Bytes()
}

// SubscribeClientOptions configures a Kinesis client so that SubscribeToShard works
// against kinesis-mock: its HTTP client sends through SubscribeShim(next). Use it with
// testbed.Env.Kinesis(faults.SubscribeClientOptions(nil)). A client whose HTTPClient is an
// Injector (with the default Options) needs nothing else.
func SubscribeClientOptions(next http.RoundTripper) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		o.HTTPClient = &http.Client{Transport: SubscribeShim(next)}
	}
}
