package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/faults"
)

// A Kinesis client whose GetRecords is throttled twice. In a test the client comes from
// testbed.Env.Kinesis and the calls reach kinesis-mock; here nothing is forwarded.
func Example() {
	inj := faults.New(nil)
	defer inj.CloseIdleConnections()
	inj.Add(faults.Rule{Op: "GetRecords", Times: 2, Fault: faults.ProvisionedThroughputExceeded()})

	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:4567"),
		HTTPClient:   inj.HTTPClient(),
		Retryer:      aws.NopRetryer{}, // each attempt sees its fault
	})
	for range 2 {
		_, err := client.GetRecords(context.Background(), &kinesis.GetRecordsInput{ShardIterator: aws.String("it")})
		var pte *types.ProvisionedThroughputExceededException
		fmt.Println("throttled:", errors.As(err, &pte))
	}
	fmt.Println("GetRecords calls:", inj.Calls("GetRecords"), "faults:", inj.Injected("GetRecords"))
	// Output:
	// throttled: true
	// throttled: true
	// GetRecords calls: 2 faults: 2
}

// fakeKinesis answers PutRecords with a success per entry, standing in for kinesis-mock.
type fakeKinesis struct{}

func (fakeKinesis) RoundTrip(req *http.Request) (*http.Response, error) {
	var in struct{ Records []json.RawMessage }
	_ = json.NewDecoder(req.Body).Decode(&in)
	req.Body.Close()
	out := map[string]any{"FailedRecordCount": 0, "Records": []map[string]string{}}
	for k := range in.Records {
		out["Records"] = append(out["Records"].([]map[string]string),
			map[string]string{"SequenceNumber": fmt.Sprint(k), "ShardId": "shardId-000000000000"})
	}
	b, _ := json.Marshal(out)
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body: io.NopCloser(bytes.NewReader(b)), Request: req}, nil
}

// PutRecords entries fail inside an HTTP 200, as Kinesis fails them under load; only the
// others reach the emulator.
func ExampleThrottleEntry() {
	inj := faults.New(fakeKinesis{})
	inj.SetShards("orders", []faults.ShardRange{{ShardID: "shardId-000000000000", Range: fullRange}})
	inj.Add(faults.Rule{
		Op:    "PutRecords",
		Entry: func(e faults.PutEntry) bool { return e.PartitionKey == "b" },
		Fault: faults.ThrottleEntry(),
	})
	client := kinesis.New(kinesis.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String("http://127.0.0.1:4567"),
		HTTPClient:   inj.HTTPClient(),
	})
	out, err := client.PutRecords(context.Background(), &kinesis.PutRecordsInput{
		StreamName: aws.String("orders"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("a"), Data: []byte("1")},
			{PartitionKey: aws.String("b"), Data: []byte("2")},
			{PartitionKey: aws.String("c"), Data: []byte("3")},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("failed:", aws.ToInt32(out.FailedRecordCount))
	for _, r := range out.Records {
		fmt.Printf("%q %q\n", aws.ToString(r.ShardId), aws.ToString(r.ErrorCode))
	}
	// Output:
	// failed: 1
	// "shardId-000000000000" ""
	// "" "ProvisionedThroughputExceededException"
	// "shardId-000000000000" ""
}
