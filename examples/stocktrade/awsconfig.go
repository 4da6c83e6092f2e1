package stocktrade

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// loadAWSConfig returns the SDK configuration for region. With an endpoint (local
// emulators) and no credentials in the environment it uses placeholder static credentials,
// which the emulators accept; without one it uses the default credential chain and checks
// that it yields credentials, so a missing profile is reported up front in one line.
func loadAWSConfig(ctx context.Context, region, endpoint string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if endpoint != "" && os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("local", "local", "")))
		if region == "" {
			opts = append(opts, config.WithRegion("us-east-1"))
		}
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("loading the AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, errors.New("no AWS region: pass -region or set AWS_REGION")
	}
	if endpoint == "" {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := cfg.Credentials.Retrieve(cctx); err != nil {
			return cfg, fmt.Errorf("no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, run `aws configure` or `aws sso login`, or pass -endpoint for local emulators): %w", err)
		}
	}
	return cfg, nil
}

// kinesisClient returns a Kinesis client, pointed at endpoint when it is set.
func kinesisClient(cfg aws.Config, endpoint string) *kinesis.Client {
	return kinesis.NewFromConfig(cfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// leaseStore returns the lease table table in DynamoDB, pointed at endpoint when it is
// set.
func leaseStore(cfg aws.Config, endpoint, table string, logger *slog.Logger) (*checkpoint.DynamoDB, error) {
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	return checkpoint.NewDynamoDB(ddb, table, func(o *checkpoint.DynamoDBOptions) { o.Logger = logger })
}

// checkStream fails with a one-line, actionable error when the stream is missing or the
// endpoint cannot be reached.
func checkStream(ctx context.Context, client *kinesis.Client, stream, region, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_, err := client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)},
		func(o *kinesis.Options) { o.RetryMaxAttempts = 2 })
	if err == nil {
		return nil
	}
	var notFound *types.ResourceNotFoundException
	var apiErr smithy.APIError
	where := "region " + region
	if endpoint != "" {
		where = endpoint
	}
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("stream %q does not exist in %s: create it first, e.g. `aws kinesis create-stream --stream-name %s --shard-count 4`", stream, where, stream)
	case errors.As(err, &apiErr) && strings.Contains(apiErr.ErrorCode(), "AccessDenied"):
		return fmt.Errorf("not allowed to describe stream %q (grant kinesis:DescribeStreamSummary, see the README's IAM policy): %s", stream, apiErr.ErrorMessage())
	case errors.As(err, &apiErr):
		return fmt.Errorf("checking stream %q in %s: %s: %s", stream, where, apiErr.ErrorCode(), apiErr.ErrorMessage())
	default:
		return fmt.Errorf("cannot reach Kinesis at %s (is the endpoint right and running?): %w", where, rootCause(err))
	}
}

// rootCause returns the innermost error, which for transport failures is the useful part
// ("connection refused") without the SDK's long operation prefix.
func rootCause(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
