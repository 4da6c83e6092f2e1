package kinesisfake_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/kinesisfake"
)

// The fake is used in place of a *kinesis.Client: create a stream, put
// records, read them back.
func Example() {
	ctx := context.Background()
	fake := kinesisfake.New()
	if _, err := fake.CreateStream(ctx, &kinesis.CreateStreamInput{
		StreamName: aws.String("orders"), ShardCount: aws.Int32(2),
	}); err != nil {
		panic(err)
	}

	put, err := fake.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("orders"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("customer-1"), Data: []byte("first order")},
			{PartitionKey: aws.String("customer-1"), Data: []byte("second order")},
			{PartitionKey: aws.String("any"), ExplicitHashKey: aws.String("0"), Data: []byte("routed by hash key")},
		},
	})
	if err != nil {
		panic(err)
	}
	for _, r := range put.Records {
		fmt.Println(aws.ToString(r.ShardId))
	}

	it, err := fake.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String("orders"), ShardId: aws.String("shardId-000000000001"),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		panic(err)
	}
	got, err := fake.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		panic(err)
	}
	for _, r := range got.Records {
		fmt.Printf("%s: %s\n", aws.ToString(r.PartitionKey), r.Data)
	}
	fmt.Println("PutRecords calls:", fake.Stats().Calls[kinesisfake.OpPutRecords])
	// Output:
	// shardId-000000000001
	// shardId-000000000001
	// shardId-000000000000
	// customer-1: first order
	// customer-1: second order
	// PutRecords calls: 1
}

// A PutRecordsHook makes chosen entries fail like throttled records on AWS.
func ExampleKinesis_SetPutRecordsHook() {
	ctx := context.Background()
	fake := kinesisfake.New()
	if _, err := fake.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(1)}); err != nil {
		panic(err)
	}
	fake.SetPutRecordsHook(func(_ context.Context, in *kinesis.PutRecordsInput) (map[int]string, error) {
		return map[int]string{1: "ProvisionedThroughputExceededException"}, nil
	})
	out, err := fake.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String("s"),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("a"), Data: []byte("1")},
			{PartitionKey: aws.String("b"), Data: []byte("2")},
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("failed:", aws.ToInt32(out.FailedRecordCount))
	fmt.Println(aws.ToString(out.Records[1].ErrorCode))
	fmt.Println("stored:", len(fake.Records("s", "shardId-000000000000")))
	// Output:
	// failed: 1
	// ProvisionedThroughputExceededException
	// stored: 1
}

// Serve gives a real *kinesis.Client talking to the fake over HTTP, for code
// that needs the SDK client itself.
func ExampleKinesis_Serve() {
	ctx := context.Background()
	fake := kinesisfake.New()
	client, stop := fake.Serve()
	defer stop()

	if _, err := client.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String("s"), ShardCount: aws.Int32(4)}); err != nil {
		panic(err)
	}
	sum, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String("s")})
	if err != nil {
		panic(err)
	}
	fmt.Println(sum.StreamDescriptionSummary.StreamStatus, aws.ToInt32(sum.StreamDescriptionSummary.OpenShardCount))
	// Output: ACTIVE 4
}
