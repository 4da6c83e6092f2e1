package awserr

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// NoKinesisRetry is the per-call option of every Kinesis call that the caller retries
// itself (with its own backoff, fresh iterators, per-shard throttling): the SDK's
// retryer must not multiply the attempts. The checkpoint store does the same for
// DynamoDB calls (its own option: the DynamoDB client's Options are another type, and
// importing that client here would put it into the producer's binary).
func NoKinesisRetry(o *kinesis.Options) { o.Retryer = aws.NopRetryer{} }
