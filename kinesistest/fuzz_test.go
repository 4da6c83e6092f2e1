package kinesistest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzHandler sends arbitrary bodies to every operation: the server must
// answer each with 200 or an AWS error (a JSON body with __type and message,
// the same code in X-Amzn-ErrorType), never panic, and keep working.
func FuzzHandler(f *testing.F) {
	ops := append(opNames[:], "Nonsense")
	f.Add(uint8(7), `{"StreamName":"s","Records":[{"PartitionKey":"a","Data":"eA=="}]}`)
	f.Add(uint8(5), `{"StreamName":"s","ShardFilter":{"Type":"AT_TIMESTAMP","Timestamp":1.5}}`)
	f.Add(uint8(8), `{"StreamName":"s","ShardId":"shardId-000000000000","ShardIteratorType":"AT_SEQUENCE_NUMBER","StartingSequenceNumber":"49"}`)
	f.Add(uint8(9), `{"ShardIterator":"aXQxAHMAMQAwADAAMA==","Limit":-1}`)
	f.Add(uint8(12), `{"StreamName":"s","TargetShardCount":3,"ScalingType":"UNIFORM_SCALING"}`)
	f.Add(uint8(15), `{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s","ConsumerName":"c"}`)
	f.Add(uint8(19), `{"ConsumerARN":"arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/c:0","ShardId":"shardId-000000000000"}`)
	f.Add(uint8(10), `{"StreamName":"s","ShardToSplit":"shardId-000000000000","NewStartingHashKey":"-1"}`)
	k := newTestKinesis(f)
	createStream(f, k, "s", 2)
	h := k.Handler()
	f.Fuzz(func(t *testing.T, op uint8, body string) {
		name := ops[int(op)%len(ops)]
		if name == "SubscribeToShard" {
			return // a successful subscription streams for 5 minutes
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("X-Amz-Target", targetPrefix+name)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == http.StatusOK {
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: 200 with a body that is not JSON: %q", name, rec.Body.String())
			}
			return
		}
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Type == "" || e.Type != rec.Header().Get("X-Amzn-Errortype") {
			t.Fatalf("%s: status %d, malformed error %q (%v)", name, rec.Code, rec.Body.String(), err)
		}
	})
}
