module github.com/kinesis-go/kinesis/benchmarks

go 1.26.0

require (
	github.com/aws/aws-sdk-go-v2 v1.48.0
	github.com/aws/aws-sdk-go-v2/service/kinesis v1.56.12
	github.com/kinesis-go/kinesis v0.0.0
)

require (
	github.com/aws/smithy-go v1.28.9 // indirect
	github.com/awslabs/kinesis-aggregation/go/v2 v2.0.0-20241004223953-c2774b1ab29b
	github.com/golang/protobuf v1.5.2 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace github.com/kinesis-go/kinesis => ../
