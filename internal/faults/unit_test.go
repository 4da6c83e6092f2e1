package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/internal/faults"
)

// stub is a fake emulator: it answers ListShards with its shards and PutRecords with one
// success per entry, routed by its shards, and counts requests by operation.
type stub struct {
	mu     sync.Mutex
	shards []faults.ShardRange
	calls  map[string]int
	bodies map[string][]string
	raw    func(op string) *http.Response // optional override
}

func newStub(shards ...faults.ShardRange) *stub {
	return &stub{shards: shards, calls: map[string]int{}, bodies: map[string][]string{}}
}

func (s *stub) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *stub) RoundTrip(req *http.Request) (*http.Response, error) {
	_, op, _ := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	s.mu.Lock()
	s.calls[op]++
	s.bodies[op] = append(s.bodies[op], string(body))
	shards := s.shards
	s.mu.Unlock()
	if s.raw != nil {
		if r := s.raw(op); r != nil {
			return r, nil
		}
	}
	var out any = map[string]any{}
	switch op {
	case "ListShards":
		var list []map[string]any
		for _, sh := range shards {
			list = append(list, map[string]any{"ShardId": sh.ShardID, "HashKeyRange": map[string]string{
				"StartingHashKey": sh.Range.Start.String(), "EndingHashKey": sh.Range.End.String()}})
		}
		out = map[string]any{"Shards": list}
	case "PutRecords":
		var in struct {
			Records []struct{ PartitionKey, ExplicitHashKey string }
		}
		_ = json.Unmarshal(body, &in)
		var recs []map[string]string
		for k, r := range in.Records {
			h := aggregation.HashKey(r.PartitionKey)
			if r.ExplicitHashKey != "" {
				h, _ = aggregation.ParseHash128(r.ExplicitHashKey)
			}
			id := ""
			for _, sh := range shards {
				if sh.Range.Contains(h) {
					id = sh.ShardID
				}
			}
			recs = append(recs, map[string]string{"SequenceNumber": fmt.Sprint(k), "ShardId": id})
		}
		out = map[string]any{"FailedRecordCount": 0, "Records": recs}
	}
	b, _ := json.Marshal(out)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: req}, nil
}

// call sends one Kinesis JSON request through rt and returns the status and body.
func call(t *testing.T, rt http.RoundTripper, op, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1:1/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", "Kinesis_20131202."+op)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func halves() []faults.ShardRange {
	mid := aggregation.Hash128{Hi: 1 << 63}
	return []faults.ShardRange{
		{ShardID: "shard-A", Range: aggregation.HashRange{Start: aggregation.Hash128{}, End: aggregation.Hash128{Hi: mid.Hi - 1, Lo: ^uint64(0)}}},
		{ShardID: "shard-B", Range: aggregation.HashRange{Start: mid, End: aggregation.MaxHashKey}},
	}
}

func putBody(hashKeys ...string) string {
	var recs []map[string]string
	for k, h := range hashKeys {
		recs = append(recs, map[string]string{"Data": "eA==", "PartitionKey": fmt.Sprint("pk", k), "ExplicitHashKey": h})
	}
	b, _ := json.Marshal(map[string]any{"StreamName": "s", "Records": recs})
	return string(b)
}

func TestProbabilityIsReproducibleWithTheSeed(t *testing.T) {
	pattern := func(seed uint64) string {
		inj := faults.New(newStub(), func(o *faults.Options) { o.Seed = seed })
		inj.Add(faults.Rule{Op: "ListShards", Probability: 0.5, Fault: faults.InternalFailure()})
		var b strings.Builder
		for range 64 {
			status, _, err := call(t, inj, "ListShards", `{"StreamName":"s"}`)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString(map[bool]string{true: "x", false: "."}[status == 500])
		}
		return b.String()
	}
	a, b, c := pattern(7), pattern(7), pattern(8)
	if a != b {
		t.Fatalf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 fault the same calls: %s", a)
	}
	if n := strings.Count(a, "x"); n < 16 || n > 48 {
		t.Fatalf("%d of 64 calls faulted with probability 0.5: %s", n, a)
	}
}

func TestFirstDecidingRuleWinsAfterDelaysAndObservers(t *testing.T) {
	next := newStub()
	inj := faults.New(next)
	var order []string
	inj.Add(faults.Rule{Op: "ListShards", Hook: func(faults.Hit) { order = append(order, "observe") }})
	inj.Add(faults.Rule{Op: "ListShards", Fault: faults.Delay(0), Hook: func(faults.Hit) { order = append(order, "delay") }})
	inj.Add(faults.Rule{Op: "DescribeStream", Fault: faults.Throttling()})
	inj.Add(faults.Rule{Op: "ListShards", Fault: faults.ServiceUnavailable(), Hook: func(faults.Hit) { order = append(order, "503") }})
	inj.Add(faults.Rule{Op: "ListShards", Fault: faults.InternalFailure(), Hook: func(faults.Hit) { order = append(order, "500") }})

	status, body, err := call(t, inj, "ListShards", `{}`)
	if err != nil || status != 503 || !strings.Contains(body, `"__type":"ServiceUnavailable"`) {
		t.Fatalf("got %d %s %v, want the 503 of the first deciding rule", status, body, err)
	}
	if strings.Join(order, ",") != "observe,delay,503" {
		t.Fatalf("hooks ran %v, want observe,delay,503", order)
	}
	if next.count("ListShards") != 0 {
		t.Fatal("a call failed before forwarding reached the emulator")
	}
	if inj.Calls("ListShards") != 1 || inj.Injected("ListShards") != 2 {
		t.Fatalf("Calls %d Injected %d, want 1 and 2 (delay and 503)", inj.Calls("ListShards"), inj.Injected("ListShards"))
	}
}

func TestRemoveStopsARuleAndIsIdempotent(t *testing.T) {
	inj := faults.New(newStub())
	remove := inj.Add(faults.Rule{Fault: faults.InternalFailure()})
	keep := inj.Add(faults.Rule{Op: "PutRecord", Fault: faults.Throttling()})
	defer keep()
	if status, _, _ := call(t, inj, "ListShards", `{}`); status != 500 {
		t.Fatalf("status %d before remove, want 500", status)
	}
	remove()
	remove()
	if status, _, _ := call(t, inj, "ListShards", `{}`); status != 200 {
		t.Fatalf("status %d after remove, want 200", status)
	}
	if status, _, _ := call(t, inj, "PutRecord", `{}`); status != 400 {
		t.Fatalf("the other rule was removed too: status %d", status)
	}
}

func TestRequestsThatAreNotAWSJSONPassUntouched(t *testing.T) {
	next := newStub()
	inj := faults.New(next)
	inj.Add(faults.Rule{Fault: faults.ConnectionReset()})
	req, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1:1/health", nil)
	resp, err := inj.RoundTrip(req)
	if err != nil {
		t.Fatalf("plain request: %v", err)
	}
	resp.Body.Close()
	if next.count("") != 1 {
		t.Fatal("the plain request did not reach the wrapped transport")
	}
}

func TestSetShardsRoutesEntriesWithoutListShards(t *testing.T) {
	next := newStub(halves()...)
	inj := faults.New(next)
	inj.SetShards("s", halves())
	var shards []string
	inj.Add(faults.Rule{Op: "PutRecords", Shard: "shard-B", Fault: faults.ThrottleEntry(),
		Hook: func(h faults.Hit) { shards = append(shards, h.Entry.Shard) }})
	status, body, err := call(t, inj, "PutRecords", putBody("0", aggregation.MaxHashKey.String(), "1"))
	if err != nil || status != 200 {
		t.Fatalf("PutRecords: %d %v", status, err)
	}
	var out struct {
		FailedRecordCount int
		Records           []struct{ ShardId, ErrorCode, ErrorMessage string }
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	if out.FailedRecordCount != 1 || out.Records[1].ErrorCode != "ProvisionedThroughputExceededException" ||
		out.Records[0].ShardId != "shard-A" || out.Records[2].ShardId != "shard-A" {
		t.Fatalf("response %s, want only the middle entry (shard-B) throttled", body)
	}
	if want := "Rate exceeded for shard shard-B in stream s under account 123456789012."; out.Records[1].ErrorMessage != want {
		t.Fatalf("message %q, want %q", out.Records[1].ErrorMessage, want)
	}
	if next.count("ListShards") != 0 {
		t.Fatal("ListShards was called although the map was set")
	}
	if len(shards) != 1 || shards[0] != "shard-B" {
		t.Fatalf("hook saw %v", shards)
	}
	// The emulator received the two other entries, byte for byte.
	var fwd struct {
		Records []struct{ Data, ExplicitHashKey string }
	}
	_ = json.Unmarshal([]byte(next.bodies["PutRecords"][0]), &fwd)
	if len(fwd.Records) != 2 || fwd.Records[0].ExplicitHashKey != "0" || fwd.Records[1].ExplicitHashKey != "1" || fwd.Records[0].Data != "eA==" {
		t.Fatalf("forwarded %s", next.bodies["PutRecords"][0])
	}
}

func TestShardMapIsFetchedOnceAndAgainAfterResharding(t *testing.T) {
	next := newStub(halves()...)
	inj := faults.New(next)
	inj.Add(faults.Rule{Op: "PutRecords", Shard: "nope", Fault: faults.ThrottleEntry()})
	put := func() {
		if status, body, err := call(t, inj, "PutRecords", putBody("0")); err != nil || status != 200 {
			t.Fatalf("PutRecords: %d %s %v", status, body, err)
		}
	}
	put()
	put()
	if n := next.count("ListShards"); n != 1 {
		t.Fatalf("ListShards called %d times for two PutRecords, want 1", n)
	}
	if _, _, err := call(t, inj, "SplitShard", `{"StreamName":"s","ShardToSplit":"shard-A"}`); err != nil {
		t.Fatal(err)
	}
	put()
	if n := next.count("ListShards"); n != 2 {
		t.Fatalf("ListShards called %d times, want a refetch after SplitShard", n)
	}
	// The emulator routes differently from the map: the map is dropped.
	next.mu.Lock()
	next.shards = []faults.ShardRange{{ShardID: "shard-C", Range: aggregation.HashRange{End: aggregation.MaxHashKey}}}
	next.mu.Unlock()
	put()
	put()
	if n := next.count("ListShards"); n != 3 {
		t.Fatalf("ListShards called %d times, want a refetch after a misrouted entry", n)
	}
}

func TestConcurrentUseIsSafe(t *testing.T) {
	inj := faults.New(newStub(halves()...), func(o *faults.Options) { o.ShardLimits = &faults.ShardLimits{} })
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 25 {
				remove := inj.Add(faults.Rule{Op: "PutRecords", Probability: 0.3, Fault: faults.ThrottleEntry()})
				if _, _, err := call(t, inj, "PutRecords", putBody("0", fmt.Sprint(g*1000+k))); err != nil {
					t.Error(err)
				}
				remove()
			}
		}()
	}
	wg.Wait()
	if inj.Calls("PutRecords") != 100 {
		t.Fatalf("Calls = %d, want 100", inj.Calls("PutRecords"))
	}
}

// events decodes an event stream into its :event-type headers.
func events(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	dec := eventstream.NewDecoder()
	for {
		msg, err := dec.Decode(r, nil)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("decoding the event stream: %v", err)
		}
		out = append(out, msg.Headers.Get(":event-type").String())
	}
}

func encodeEvents(t *testing.T, types ...string) []byte {
	var buf bytes.Buffer
	for _, et := range types {
		err := eventstream.NewEncoder().Encode(&buf, eventstream.Message{Headers: eventstream.Headers{
			{Name: ":event-type", Value: eventstream.StringValue(et)},
			{Name: ":message-type", Value: eventstream.StringValue("event")},
		}, Payload: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestSubscribeShimAddsInitialResponseOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"missing", []string{"SubscribeToShardEvent", "SubscribeToShardEvent"}, "initial-response,SubscribeToShardEvent,SubscribeToShardEvent"},
		{"present", []string{"initial-response", "SubscribeToShardEvent"}, "initial-response,SubscribeToShardEvent"},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := newStub()
			next.raw = func(string) *http.Response {
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(encodeEvents(t, tc.in...)))}
			}
			for name, rt := range map[string]http.RoundTripper{"shim": faults.SubscribeShim(next), "injector": faults.New(next)} {
				req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", strings.NewReader(`{}`))
				req.Header.Set("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")
				resp, err := rt.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				got := strings.Join(events(t, resp.Body), ",")
				resp.Body.Close()
				if got != tc.want {
					t.Errorf("%s: events %s, want %s", name, got, tc.want)
				}
			}
		})
	}
}

var fullRange = aggregation.HashRange{End: aggregation.MaxHashKey}
