package kinesistest_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/kinesistest"
)

// A test starts a server with kinesistest.NewServer(t); this example, which
// has no t, uses Start and Close. The client is a real *kinesis.Client.
func Example() {
	srv, err := kinesistest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("orders", 2); err != nil {
		panic(err)
	}
	ctx := context.Background()
	client := srv.Client()

	put, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("orders"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("customer-1"), Data: []byte("first order")},
			{PartitionKey: aws.String("customer-1"), Data: []byte("second order")},
		},
	})
	if err != nil {
		panic(err)
	}
	shard := put.Records[0].ShardId
	fmt.Println("written to", *shard, "failed:", *put.FailedRecordCount)

	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("orders"), ShardId: shard, ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		panic(err)
	}
	got, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		panic(err)
	}
	for _, r := range got.Records {
		fmt.Println(*r.PartitionKey, string(r.Data))
	}
	// Output:
	// written to shardId-000000000001 failed: 0
	// customer-1 first order
	// customer-1 second order
}

// A control scripts failures: here the first PutRecords call fails its second
// entry with ProvisionedThroughputExceededException, and the second call fails
// as a whole. A control stays until it handles a call (returns true).
func ExampleServer_Control() {
	srv, err := kinesistest.Start()
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("orders", 1); err != nil {
		panic(err)
	}
	calls := 0
	srv.Control(kinesistest.OpPutRecords, func(c *kinesistest.Call) (any, error, bool) {
		calls++
		if calls == 1 {
			c.FailRecord(1, "ProvisionedThroughputExceededException")
			return nil, nil, false // not handled: the call goes on, the other entries are stored
		}
		return nil, &types.InternalFailureException{Message: aws.String("injected")}, true // handled: removed
	})

	client := kinesis.New(srv.Client().Options(), func(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} })
	in := &kinesis.PutRecordsInput{StreamName: aws.String("orders"), Records: []types.PutRecordsRequestEntry{
		{PartitionKey: aws.String("a"), Data: []byte("1")},
		{PartitionKey: aws.String("b"), Data: []byte("2")},
	}}
	out, err := client.PutRecords(context.Background(), in)
	if err != nil {
		panic(err)
	}
	fmt.Println("failed records:", *out.FailedRecordCount, *out.Records[1].ErrorCode)

	_, err = client.PutRecords(context.Background(), in)
	var internal *types.InternalFailureException
	fmt.Println("second call:", errors.As(err, &internal))

	_, err = client.PutRecords(context.Background(), in)
	fmt.Println("third call:", err)
	// Output:
	// failed records: 1 ProvisionedThroughputExceededException
	// second call: true
	// third call: <nil>
}
