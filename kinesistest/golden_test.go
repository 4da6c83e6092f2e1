package kinesistest

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// rawCall posts body to op on k's handler and renders the response the way
// the golden files hold it: status, the headers the SDK reads (not the
// request ID, which changes), and the body, indented.
func rawCall(t *testing.T, k *Kinesis, op, body string) string {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if op != "" {
		req.Header.Set("X-Amz-Target", targetPrefix+op)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	k.Handler().ServeHTTP(rec, req)
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP %d\n", rec.Code)
	for _, h := range []string{"Content-Type", "X-Amzn-Errortype"} {
		if v := rec.Header().Get(h); v != "" {
			fmt.Fprintf(&out, "%s: %s\n", h, v)
		}
	}
	out.WriteString("\n")
	if err := json.Indent(&out, rec.Body.Bytes(), "", "  "); err != nil {
		out.Write(rec.Body.Bytes())
	}
	out.WriteString("\n")
	return out.String()
}

// TestErrorBodiesGolden pins the wire form of the errors the server sends:
// the code in X-Amzn-ErrorType and __type, AWS's message, the status (400,
// 500 for server faults), and per-record errors inside a PutRecords 200.
// Run with -update after an intended change and review the diff.
func TestErrorBodiesGolden(t *testing.T) {
	clk := newClock()
	k := newTestKinesis(t, func(o *Options) { o.Now = clk.Now; o.Limits = &Limits{RecordsPerSecond: 2} })
	createStream(t, k, "s", 1)
	it := iter(t, k, "s", "shardId-000000000000", types.ShardIteratorTypeTrimHorizon)
	cases := []struct{ name, op, body string }{
		{"missing-stream", "DescribeStreamSummary", `{"StreamName":"nope"}`},
		{"no-records", "PutRecords", `{"StreamName":"s","Records":[]}`},
		{"long-partition-key", "PutRecord", `{"StreamName":"s","PartitionKey":"` + strings.Repeat("k", 257) + `","Data":"eA=="}`},
		{"ehk-out-of-range", "PutRecord", `{"StreamName":"s","PartitionKey":"k","ExplicitHashKey":"340282366920938463463374607431768211456","Data":"eA=="}`},
		{"invalid-iterator", "GetRecords", `{"ShardIterator":"bm90IGFuIGl0ZXJhdG9y"}`},
		{"missing-shard", "GetShardIterator", `{"StreamName":"s","ShardId":"shardId-000000000009","ShardIteratorType":"TRIM_HORIZON"}`},
		{"unknown-operation", "DescribeLimits", `{}`},
		{"not-json", "ListShards", `{"StreamName":`},
		{"retention-too-short", "DecreaseStreamRetentionPeriod", `{"StreamName":"s","RetentionPeriodHours":12}`},
		{"put-records-throttled-entries", "PutRecords", `{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"eA=="},{"PartitionKey":"b","Data":"eA=="},{"PartitionKey":"c","Data":"eA=="}]}`},
		{"put-record-throttled", "PutRecord", `{"StreamName":"s","PartitionKey":"a","Data":"eA=="}`},
	}
	got := map[string]string{}
	for _, c := range cases {
		got[c.name] = rawCall(t, k, c.op, c.body)
	}
	clk.Advance(6 * time.Minute)
	got["expired-iterator"] = rawCall(t, k, "GetRecords", `{"ShardIterator":"`+it+`"}`)
	k.Control(OpListShards, func(*Call) (any, error, bool) {
		return nil, &types.InternalFailureException{Message: aws.String("injected by a control")}, true
	})
	got["control-internal-failure"] = rawCall(t, k, "ListShards", `{"StreamName":"s"}`)

	for name, body := range got {
		path := filepath.Join("testdata", "errors", name+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestErrorBodiesGolden -update)", err)
		}
		if string(want) != body {
			t.Errorf("%s differs from %s:\n%s", name, path, body)
		}
	}
}
