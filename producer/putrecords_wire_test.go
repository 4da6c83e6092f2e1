package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	smithy "github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/kinesis-go/kinesis/internal/jsonstr"
)

// wireResponse is the canned PutRecords answer of wireHTTPClient.
const wireResponse = `{"FailedRecordCount":1,"Records":[` +
	`{"SequenceNumber":"49590338271490256608559692538361571095921575989136588898","ShardId":"shardId-000000000000"},` +
	`{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"Rate exceeded for shard"}]}`

// wireSent is one request as wireHTTPClient received it.
type wireSent struct {
	method, path  string
	header        http.Header
	contentLength int64
	body          []byte
}

// wireHTTPClient is the HTTP client of the test kinesis.Client: it records
// each request (keep) or just reads its body (benchmarks), and answers every
// call with wireResponse. It never touches the network.
type wireHTTPClient struct {
	keep bool
	mu   sync.Mutex
	sent []wireSent
}

// Do implements kinesis.HTTPClient.
func (c *wireHTTPClient) Do(r *http.Request) (*http.Response, error) {
	s := wireSent{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), contentLength: r.ContentLength}
	if r.Body != nil {
		var err error
		if c.keep {
			s.body, err = io.ReadAll(r.Body)
		} else {
			_, err = io.Copy(io.Discard, r.Body)
		}
		r.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	if c.keep {
		c.mu.Lock()
		c.sent = append(c.sent, s)
		c.mu.Unlock()
	}
	return &http.Response{
		StatusCode:    http.StatusOK,
		Status:        "200 OK",
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.1"}, "X-Amzn-Requestid": {"wire-test"}},
		ContentLength: int64(len(wireResponse)),
		Body:          io.NopCloser(strings.NewReader(wireResponse)),
		Request:       r,
	}, nil
}

// last returns the last request recorded.
func (c *wireHTTPClient) last(t testing.TB) wireSent {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.sent) == 0 {
		t.Fatal("no request sent")
	}
	return c.sent[len(c.sent)-1]
}

// newWireClient is a real kinesis.Client whose requests end in hc.
func newWireClient(hc *wireHTTPClient) *kinesis.Client {
	return kinesis.New(kinesis.Options{
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String("http://127.0.0.1:1"),
		HTTPClient:       hc,
		RetryMaxAttempts: 1,
	})
}

// sdkPutRecordsBody is the body the SDK's own serializer (awsJson1_1 protocol
// of the client, PutRecords operation schema) writes for in.
func sdkPutRecordsBody(t testing.TB, in *kinesis.PutRecordsInput) []byte {
	t.Helper()
	req := smithyhttp.NewStackRequest().(*smithyhttp.Request)
	op := smithy.NewOperationSchema(schemas.PutRecords, schemas.PutRecordsInput, schemas.PutRecordsOutput)
	if err := awsjson.New11(schemas.Kinesis_20131202).SerializeRequest(context.Background(), op, in, req); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(req.GetStream())
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// wireBody is our body for in, checking that the sizing pass was exact: one
// allocation, of the final length.
func wireBody(t testing.TB, in *kinesis.PutRecordsInput) []byte {
	t.Helper()
	n := putRecordsBodyLen(in)
	body := putRecordsBody(in)
	if len(body) != n || cap(body) != n {
		t.Fatalf("sizing pass said %d bytes, body has len %d cap %d", n, len(body), cap(body))
	}
	return body
}

// wireRandom returns n random bytes.
func wireRandom(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// wireEntries returns n entries of size random bytes each, with 16-byte hex
// partition keys and, if ehk, a decimal 128-bit explicit hash key.
func wireEntries(n, size int, ehk bool) []types.PutRecordsRequestEntry {
	es := make([]types.PutRecordsRequestEntry, n)
	for i := range es {
		es[i] = types.PutRecordsRequestEntry{
			Data:         wireRandom(size),
			PartitionKey: aws.String(hex.EncodeToString(wireRandom(16))),
		}
		if ehk {
			es[i].ExplicitHashKey = aws.String(new(big.Int).SetBytes(wireRandom(16)).String())
		}
	}
	return es
}

// wireTrickyStrings are strings that exercise every escaping rule of the SDK's
// JSON serializer.
var wireTrickyStrings = []string{
	"",
	"plain-ascii_Key.0123456789",
	`quote " and backslash \ and slash /`,
	"controls \x00\x01\x07\b\f\n\r\t\x1b\x1f and DEL \x7f",
	"html <script>&amp;</script> '",
	"line sep \u2028 para sep \u2029 end",
	"multi-byte é ß 中文 ﬀ \uFFFD",
	"emoji 🙂👍🏽🏳️‍🌈",
	"invalid utf-8 \xff \xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 end",
	"\xe2\x80\xa8\xe2\x80", // U+2028 then a truncated sequence
	strings.Repeat("abcdefgh", 40) + "\"",
}

// TestWireEquivalence sends the same inputs through a real client with and
// without fastPutRecords and compares what reached the HTTP client.
func TestWireEquivalence(t *testing.T) {
	hc := &wireHTTPClient{keep: true}
	client := newWireClient(hc)
	arn := "arn:aws:kinesis:us-east-1:123456789012:stream/wire-stream"

	type tc struct {
		name string
		in   kinesis.PutRecordsInput
	}
	var cases []tc
	for i, s := range wireTrickyStrings {
		cases = append(cases, tc{
			name: fmt.Sprintf("keys-%d", i),
			in: kinesis.PutRecordsInput{
				StreamName: aws.String("wire-stream"),
				Records: []types.PutRecordsRequestEntry{
					{Data: []byte("x"), PartitionKey: aws.String(s)},
					{Data: []byte("yz"), PartitionKey: aws.String("pk"), ExplicitHashKey: aws.String(s)},
				},
			},
		})
	}
	cases = append(cases,
		tc{"ehk-nil-and-set", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("abc"), PartitionKey: aws.String("a")},
			{Data: []byte("abc"), PartitionKey: aws.String("a"), ExplicitHashKey: aws.String("340282366920938463463374607431768211455")},
		}}},
		tc{"empty-data", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte{}, PartitionKey: aws.String("a")},
		}}},
		tc{"nil-partition-key", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{
			{Data: []byte("abc")},
		}}},
		tc{"no-records", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: []types.PutRecordsRequestEntry{}}},
		tc{"1-byte", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: wireEntries(1, 1, false)}},
		tc{"3-bytes", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: wireEntries(1, 3, true)}},
		tc{"51200-bytes", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: wireEntries(1, 51200, true)}},
		tc{"500-entries", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: wireEntries(500, 17, true)}},
		tc{"100x51200", kinesis.PutRecordsInput{StreamName: aws.String("s"), Records: wireEntries(100, 51200, true)}},
		tc{"stream-arn-only", kinesis.PutRecordsInput{StreamARN: aws.String(arn), Records: wireEntries(3, 2, true)}},
		tc{"stream-name-and-arn", kinesis.PutRecordsInput{StreamName: aws.String("wire-stream"), StreamARN: aws.String(arn), Records: wireEntries(3, 4, false)}},
		tc{"all-fields", kinesis.PutRecordsInput{
			DryRun: aws.Bool(true), StreamName: aws.String("wire-stream"), StreamARN: aws.String(arn),
			StreamId: aws.String("wire-stream-id"), Records: wireEntries(2, 5, true),
		}},
		tc{"dry-run-false", kinesis.PutRecordsInput{DryRun: aws.Bool(false), StreamName: aws.String("s"), Records: wireEntries(1, 6, false)}},
	)

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sdkOut, err := client.PutRecords(context.Background(), &c.in, wireSerializerIs(t, false))
			if err != nil {
				t.Fatalf("sdk: %v", err)
			}
			sdk := hc.last(t)
			fastOut, err := client.PutRecords(context.Background(), &c.in, fastPutRecords, wireSerializerIs(t, true))
			if err != nil {
				t.Fatalf("fast: %v", err)
			}
			fast := hc.last(t)

			if !bytes.Equal(sdk.body, fast.body) {
				t.Fatalf("bodies differ:\nsdk:  %.400q\nfast: %.400q", sdk.body, fast.body)
			}
			var m map[string]any
			if err := json.Unmarshal(fast.body, &m); err != nil {
				t.Fatalf("fast body is not JSON: %v", err)
			}
			if got := wireBody(t, &c.in); !bytes.Equal(got, fast.body) {
				t.Fatal("putRecordsBody differs from the body sent")
			}
			if sdk.method != fast.method || fast.method != http.MethodPost {
				t.Errorf("method: sdk %q fast %q", sdk.method, fast.method)
			}
			if sdk.path != fast.path || fast.path != "/" {
				t.Errorf("path: sdk %q fast %q", sdk.path, fast.path)
			}
			for _, h := range []string{"Content-Type", "X-Amz-Target", "Content-Length"} {
				if s, f := sdk.header.Get(h), fast.header.Get(h); s != f {
					t.Errorf("%s: sdk %q fast %q", h, s, f)
				}
			}
			if got := fast.header.Get("Content-Type"); got != "application/x-amz-json-1.1" {
				t.Errorf("Content-Type %q", got)
			}
			if got := fast.header.Get("X-Amz-Target"); got != "Kinesis_20131202.PutRecords" {
				t.Errorf("X-Amz-Target %q", got)
			}
			if sdk.contentLength != fast.contentLength || fast.contentLength != int64(len(fast.body)) {
				t.Errorf("ContentLength: sdk %d fast %d body %d", sdk.contentLength, fast.contentLength, len(fast.body))
			}
			// Same header names (values such as the date and signature may differ).
			if s, f := slices.Sorted(maps.Keys(sdk.header)), slices.Sorted(maps.Keys(fast.header)); !slices.Equal(s, f) {
				t.Errorf("header names: sdk %v fast %v", s, f)
			}
			for _, w := range []wireSent{sdk, fast} {
				if a := w.header.Get("Authorization"); !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential=AKID/") {
					t.Errorf("Authorization %q", a)
				}
			}
			for _, out := range []*kinesis.PutRecordsOutput{sdkOut, fastOut} {
				if len(out.Records) != 2 || aws.ToInt32(out.FailedRecordCount) != 1 ||
					aws.ToString(out.Records[0].ShardId) != "shardId-000000000000" ||
					aws.ToString(out.Records[1].ErrorCode) != "ProvisionedThroughputExceededException" {
					t.Errorf("response not parsed: %+v", out)
				}
			}
		})
	}
}

// wireSerializerIs is a call option checking, once the stack is built,
// whether its operation serializer is putRecordsWire (ours) or not.
func wireSerializerIs(t *testing.T, ours bool) func(*kinesis.Options) {
	return func(o *kinesis.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			m, ok := s.Serialize.Get(wireSerializerID)
			if _, isOurs := m.(putRecordsWire); !ok || isOurs != ours {
				t.Errorf("operation serializer %T (found %v), want ours=%v", m, ok, ours)
			}
			return nil
		})
	}
}

// TestWireConcurrent makes concurrent calls with fastPutRecords on one client
// (run it with -race) and checks every body against the SDK serializer's.
func TestWireConcurrent(t *testing.T) {
	hc := &wireHTTPClient{keep: true}
	client := newWireClient(hc)
	ins := make([]*kinesis.PutRecordsInput, 8)
	want := map[string]bool{}
	for i := range ins {
		ins[i] = &kinesis.PutRecordsInput{StreamName: aws.String(fmt.Sprint("s", i)), Records: wireEntries(5, 100*i, i%2 == 0)}
		want[string(sdkPutRecordsBody(t, ins[i]))] = true
	}
	var wg sync.WaitGroup
	for _, in := range ins {
		wg.Go(func() {
			for range 4 {
				if _, err := client.PutRecords(context.Background(), in, fastPutRecords); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if len(hc.sent) != 4*len(ins) {
		t.Fatalf("%d requests sent", len(hc.sent))
	}
	for _, s := range hc.sent {
		if !want[string(s.body)] {
			t.Errorf("unexpected body %.200q", s.body)
		}
	}
}

// TestWireBodyMatchesSDKSerializer compares our body with the SDK serializer's
// on shapes the client's validation would refuse (nil Data, nil Records, empty
// input), which the serializer must still write like the SDK.
func TestWireBodyMatchesSDKSerializer(t *testing.T) {
	ins := []*kinesis.PutRecordsInput{
		{},
		{DryRun: aws.Bool(true)},
		{StreamName: aws.String("s")},
		{Records: []types.PutRecordsRequestEntry{}},
		{Records: []types.PutRecordsRequestEntry{{}}},
		{Records: []types.PutRecordsRequestEntry{{}, {}}, StreamId: aws.String("id")},
		{Records: []types.PutRecordsRequestEntry{{ExplicitHashKey: aws.String("1")}}},
		{Records: []types.PutRecordsRequestEntry{{Data: []byte{}}, {PartitionKey: aws.String("")}}},
		{Records: wireEntries(4, 10, true), StreamARN: aws.String("arn"), StreamId: aws.String("\u2029")},
	}
	for i, in := range ins {
		if want, got := sdkPutRecordsBody(t, in), wireBody(t, in); !bytes.Equal(want, got) {
			t.Errorf("%d: sdk %q, ours %q", i, want, got)
		}
	}
}

// wireCheckString checks jsonstr.Append and jsonstr.Len on s against the
// SDK serializer.
func wireCheckString(t testing.TB, s string) {
	t.Helper()
	in := &kinesis.PutRecordsInput{StreamName: &s}
	want := sdkPutRecordsBody(t, in)
	if got := wireBody(t, in); !bytes.Equal(want, got) {
		t.Fatalf("%q: sdk %q, ours %q", s, want, got)
	}
	if n, m := jsonstr.Len(s), len(jsonstr.Append(nil, s)); n != m {
		t.Fatalf("%q: jsonstr.Len %d, jsonstr.Append wrote %d", s, n, m)
	}
}

// TestWireRandomStrings compares our string escaping with the SDK's on random
// strings built from bytes and sequences that need care.
func TestWireRandomStrings(t *testing.T) {
	for _, s := range wireTrickyStrings {
		wireCheckString(t, s)
	}
	for b := range 256 {
		wireCheckString(t, string([]byte{byte(b)}))
		wireCheckString(t, "ab"+string([]byte{byte(b)})+"cd")
	}
	pieces := []string{
		"a", "Z", "0", " ", `"`, `\`, "/", "<", ">", "&", "'", "\x00", "\x1f", "\x7f", "\n", "\r", "\t", "\b", "\f",
		"é", "中", "🙂", "\u2028", "\u2029", "\u2027", "\u202a", "\uFFFD", "\xff", "\x80", "\xc3", "\xe2\x80", "\xed\xa0\x80",
		"\xf0\x9f", "\xf4\x90\x80\x80", "\xc0\xaf",
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	for range 3000 {
		var sb strings.Builder
		for range rng.IntN(24) {
			sb.WriteString(pieces[rng.IntN(len(pieces))])
		}
		wireCheckString(t, sb.String())
	}
}

// FuzzWireString compares our string escaping with the SDK's (go test -fuzz).
func FuzzWireString(f *testing.F) {
	for _, s := range wireTrickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { wireCheckString(t, s) })
}

// TestWireKnowsAllFields fails when an SDK upgrade adds a member to the input
// shapes: putRecordsBody would silently leave it out.
func TestWireKnowsAllFields(t *testing.T) {
	exported := func(v any) []string {
		var names []string
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			if f := typ.Field(i); f.IsExported() {
				names = append(names, f.Name)
			}
		}
		slices.Sort(names)
		return names
	}
	if got, want := exported(kinesis.PutRecordsInput{}), []string{"DryRun", "Records", "StreamARN", "StreamId", "StreamName"}; !slices.Equal(got, want) {
		t.Errorf("PutRecordsInput fields %v, putRecordsBody knows %v", got, want)
	}
	if got, want := exported(types.PutRecordsRequestEntry{}), []string{"Data", "ExplicitHashKey", "PartitionKey"}; !slices.Equal(got, want) {
		t.Errorf("PutRecordsRequestEntry fields %v, putRecordsBody knows %v", got, want)
	}
}

// wireMiddleware is a Serialize middleware that does nothing but pass on.
type wireMiddleware string

// ID implements middleware.SerializeMiddleware.
func (m wireMiddleware) ID() string { return string(m) }

// HandleSerialize implements middleware.SerializeMiddleware.
func (wireMiddleware) HandleSerialize(ctx context.Context, in middleware.SerializeInput, next middleware.SerializeHandler) (
	middleware.SerializeOutput, middleware.Metadata, error,
) {
	return next.HandleSerialize(ctx, in)
}

// wireAPIOption returns the stack function fastPutRecords adds to options of
// the awsJson1_1 protocol, or of protocol p if not nil.
func wireAPIOption(t *testing.T, p smithyhttp.ClientProtocol) func(*middleware.Stack) error {
	t.Helper()
	o := kinesis.Options{Protocol: awsjson.New11(schemas.Kinesis_20131202)}
	if p != nil {
		o.Protocol = p
	}
	fastPutRecords(&o)
	if len(o.APIOptions) != 1 {
		t.Fatalf("fastPutRecords added %d API options", len(o.APIOptions))
	}
	return o.APIOptions[0]
}

// wireOtherProtocol is a client protocol of another ID.
type wireOtherProtocol struct{ smithyhttp.ClientProtocol }

// ID implements smithyhttp.ClientProtocol.
func (wireOtherProtocol) ID() smithy.ShapeID {
	return smithy.ShapeID{Namespace: "smithy.protocols", Name: "rpcv2Cbor"}
}

// TestFastPutRecordsStack checks where fastPutRecords swaps the serializer and
// that everywhere else it returns nil and leaves the stack as it was.
func TestFastPutRecordsStack(t *testing.T) {
	newStack := func(op string, ids ...string) *middleware.Stack {
		s := middleware.NewStack(op, smithyhttp.NewStackRequest)
		for _, id := range ids {
			if err := s.Serialize.Add(wireMiddleware(id), middleware.After); err != nil {
				t.Fatal(err)
			}
		}
		return s
	}
	unchanged := func(name string, s *middleware.Stack, fn func(*middleware.Stack) error) {
		t.Helper()
		before := s.String()
		ids := s.Serialize.List()
		if err := fn(s); err != nil {
			t.Errorf("%s: error %v", name, err)
		}
		if after := s.String(); after != before || !slices.Equal(ids, s.Serialize.List()) {
			t.Errorf("%s: stack changed:\n%s\n->\n%s", name, before, after)
		}
		if m, ok := s.Serialize.Get(wireSerializerID); ok {
			if _, ours := m.(putRecordsWire); ours {
				t.Errorf("%s: serializer swapped", name)
			}
		}
	}

	fn := wireAPIOption(t, nil)
	unchanged("empty stack", newStack("PutRecords"), fn)
	unchanged("no OperationSerializer", newStack("PutRecords", "A", "B"), fn)
	unchanged("another operation", newStack("PutRecord", "A", wireSerializerID, "B"), fn)
	unchanged("another protocol", newStack("PutRecords", "A", wireSerializerID, "B"), wireAPIOption(t, wireOtherProtocol{}))

	s := newStack("PutRecords", "A", wireSerializerID, "B")
	if err := fn(s); err != nil {
		t.Fatal(err)
	}
	if got := s.Serialize.List(); !slices.Equal(got, []string{"A", wireSerializerID, "B"}) {
		t.Errorf("serialize step after swap: %v", got)
	}
	if m, _ := s.Serialize.Get(wireSerializerID); reflect.TypeOf(m) != reflect.TypeFor[putRecordsWire]() {
		t.Errorf("serializer after swap: %T", m)
	}
}

// TestWireSerializerRejects checks the errors of the middleware on inputs it
// cannot serialize, and that it does not call the next handler then.
func TestWireSerializerRejects(t *testing.T) {
	next := middleware.SerializeHandlerFunc(func(context.Context, middleware.SerializeInput) (middleware.SerializeOutput, middleware.Metadata, error) {
		t.Error("next handler called")
		return middleware.SerializeOutput{}, middleware.Metadata{}, nil
	})
	for _, in := range []middleware.SerializeInput{
		{Parameters: &kinesis.PutRecordInput{}, Request: smithyhttp.NewStackRequest()},
		{Parameters: (*kinesis.PutRecordsInput)(nil), Request: smithyhttp.NewStackRequest()},
		{Parameters: &kinesis.PutRecordsInput{}, Request: &http.Request{}},
	} {
		if _, _, err := (putRecordsWire{}).HandleSerialize(context.Background(), in, next); err == nil {
			t.Errorf("%T %T: no error", in.Parameters, in.Request)
		}
	}
	_, err := newWireClient(&wireHTTPClient{}).PutRecord(context.Background(),
		&kinesis.PutRecordInput{Data: []byte("x"), PartitionKey: aws.String("a"), StreamName: aws.String("s")}, fastPutRecords)
	if err != nil {
		t.Errorf("fastPutRecords broke PutRecord: %v", err)
	}
}

// BenchmarkPutRecordsSerialize measures the client side of a typical producer
// request (100 entries of 51,200 random bytes, hex partition keys, explicit
// hash keys): serialize, sign and hand to an HTTP client that reads the body,
// with the SDK's serializer and with fastPutRecords.
func BenchmarkPutRecordsSerialize(b *testing.B) {
	in := &kinesis.PutRecordsInput{StreamName: aws.String("bench-stream"), Records: wireEntries(100, 51200, true)}
	total := int64(0)
	for _, e := range in.Records {
		total += int64(len(e.Data))
	}
	client := newWireClient(&wireHTTPClient{})
	for _, bc := range []struct {
		name string
		opts []func(*kinesis.Options)
	}{
		{"sdk", nil},
		{"fast", []func(*kinesis.Options){fastPutRecords}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(total)
			for b.Loop() {
				if _, err := client.PutRecords(context.Background(), in, bc.opts...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// wireCheckBase64 fails t unless appendBase64 writes b as the quoted output of
// base64.StdEncoding, after a prefix it must leave alone, into a buffer of the
// exact size (as putRecordsBody sizes it) and into one that must grow.
func wireCheckBase64(t testing.TB, b []byte) {
	t.Helper()
	want := `pre"` + base64.StdEncoding.EncodeToString(b) + `"`
	exact := make([]byte, 0, len(want))
	exact = append(exact, "pre"...)
	if got := appendBase64(exact, b); string(got) != want || cap(got) != len(want) {
		t.Fatalf("appendBase64 of %d bytes %x:\n got %q (cap %d)\nwant %q", len(b), b, got, cap(got), want)
	}
	if got := appendBase64([]byte("pre"), b); string(got) != want {
		t.Fatalf("appendBase64 of %d bytes %x into a short buffer:\n got %q\nwant %q", len(b), b, got, want)
	}
}

// TestBase64MatchesStdlib compares appendBase64 with base64.StdEncoding for
// every length up to 300 and for random lengths up to 200 KB, on random bytes
// and on all-zero and all-0xFF inputs (the first and last table entries).
func TestBase64MatchesStdlib(t *testing.T) {
	for n := 0; n <= 300; n++ {
		for range 4 {
			wireCheckBase64(t, wireRandom(n))
		}
		wireCheckBase64(t, make([]byte, n))
		wireCheckBase64(t, bytes.Repeat([]byte{0xFF}, n))
	}
	for range 200 {
		wireCheckBase64(t, wireRandom(mrand.IntN(200<<10+1)))
	}
	// Every 12-bit value in each of the four positions of a 6-byte group.
	for v := range 1 << 12 {
		var b [14]byte
		for shift := range 4 {
			clear(b[:])
			x := uint64(v) << (36 - 12*shift)
			for i := range 6 {
				b[i] = byte(x >> (40 - 8*i))
			}
			wireCheckBase64(t, b[:])
		}
	}
}

// FuzzAppendBase64 compares appendBase64 with base64.StdEncoding.
func FuzzAppendBase64(f *testing.F) {
	for _, s := range []string{"", "a", "ab", "abc", "abcdef", "abcdefg", "abcdefgh", "\x00\xff\x10\x83\xfe\x7f\x80\x01\x02"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { wireCheckBase64(t, b) })
}

// BenchmarkAppendBase64 encodes one typical aggregated record (51,200 random
// bytes) with base64.StdEncoding.Encode and with appendBase64, into a buffer
// of the right size.
func BenchmarkAppendBase64(b *testing.B) {
	src := wireRandom(51200)
	dst := make([]byte, 0, base64.StdEncoding.EncodedLen(len(src))+2)
	b.Run("stdlib", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			d := append(dst[:0], '"')
			d = d[:1+base64.StdEncoding.EncodedLen(len(src))]
			base64.StdEncoding.Encode(d[1:], src)
			_ = append(d, '"')
		}
	})
	b.Run("ours", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			_ = appendBase64(dst[:0], src)
		}
	})
}
