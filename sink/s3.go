package sink

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// S3Client is the part of the S3 API the S3 destination uses: the calls of the SDK's
// upload manager (feature/s3/transfermanager: PutObject, and the multipart calls for
// large objects) and GetObject. *s3.Client satisfies it; point it at a local S3 with
// s3.Options.BaseEndpoint and UsePathStyle.
type S3Client interface {
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	UploadPart(context.Context, *s3.UploadPartInput, ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CreateMultipartUpload(context.Context, *s3.CreateMultipartUploadInput, ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	CompleteMultipartUpload(context.Context, *s3.CompleteMultipartUploadInput, ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(context.Context, *s3.AbortMultipartUploadInput, ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// NewS3 returns a Destination that writes objects into bucket with the SDK's upload
// manager: one PutObject for objects up to 16 MiB, a multipart upload (parts uploaded
// concurrently) above. An object exists in S3 only once its upload completed, so what
// the sink checkpoints is always complete. The sink retries failed writes itself, with
// its own backoff, so the client's retryer is turned off for these calls (aws.NopRetryer)
// and attempts do not multiply.
//
// The sink's per-shard state object is written with S3's conditional writes (If-Match,
// If-None-Match), which every S3 bucket supports; an S3-compatible store without them
// answers 501 NotImplemented, and the sink keeps retrying: use a wrapper without
// ConditionalDestination there.
//
// Permissions: s3:PutObject and s3:GetObject on the bucket's objects (multipart uploads
// need no other permission; s3:AbortMultipartUpload lets a failed one be cleaned up).
func NewS3(client S3Client, bucket string) Destination {
	return &s3Destination{bucket: bucket, client: noRetryS3{client}, up: transfermanager.New(noRetryS3{client})}
}

type s3Destination struct {
	bucket string
	client S3Client
	up     *transfermanager.Client
}

func (d *s3Destination) Put(ctx context.Context, name string, body []byte) error {
	_, err := d.up.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket:        aws.String(d.bucket),
		Key:           aws.String(name),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return d.wrap("s3:PutObject", name, err)
	}
	return nil
}

func (d *s3Destination) GetVersion(ctx context.Context, name string) ([]byte, string, error) {
	out, err := d.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(name)})
	if err != nil {
		if code := awserr.Code(err); code == "NoSuchKey" || code == "NotFound" {
			return nil, "", fmt.Errorf("%w: s3://%s/%s: %w", ErrNotFound, d.bucket, name, err)
		}
		return nil, "", d.wrap("s3:GetObject", name, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", fmt.Errorf("sink: reading s3://%s/%s: %w", d.bucket, name, err)
	}
	return b, aws.ToString(out.ETag), nil
}

// PutIfVersion uses S3's conditional writes: If-Match with the ETag read, or
// If-None-Match: * for an object that must not exist.
func (d *s3Destination) PutIfVersion(ctx context.Context, name string, body []byte, version string) error {
	in := &s3.PutObjectInput{Bucket: aws.String(d.bucket), Key: aws.String(name), Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body)))}
	if version == "" {
		in.IfNoneMatch = aws.String("*")
	} else {
		in.IfMatch = aws.String(version)
	}
	_, err := d.client.PutObject(ctx, in)
	switch code := awserr.Code(err); {
	case err == nil:
		return nil
	case code == "PreconditionFailed" || code == "ConditionalRequestConflict":
		return fmt.Errorf("%w: s3://%s/%s: %w", ErrConflict, d.bucket, name, err)
	}
	return d.wrap("s3:PutObject", name, err)
}

// wrap describes err of action on the object name.
func (d *s3Destination) wrap(action, name string, err error) error {
	resource := "s3://" + d.bucket + "/" + name
	if awserr.Code(err) == "AccessDenied" {
		return &AccessDeniedError{Action: action, Resource: resource, Err: err}
	}
	return fmt.Errorf("sink: %s of %s: %w", action, resource, err)
}

func (d *s3Destination) Get(ctx context.Context, name string) ([]byte, error) {
	b, _, err := d.GetVersion(ctx, name)
	return b, err
}

// noRetryS3 turns the SDK retryer off for every call: the sink's retry loop owns retries.
type noRetryS3 struct{ c S3Client }

func noRetry(opts []func(*s3.Options)) []func(*s3.Options) {
	return append(opts, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
}

func (n noRetryS3) PutObject(ctx context.Context, in *s3.PutObjectInput, o ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	return n.c.PutObject(ctx, in, noRetry(o)...)
}

func (n noRetryS3) UploadPart(ctx context.Context, in *s3.UploadPartInput, o ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	return n.c.UploadPart(ctx, in, noRetry(o)...)
}

func (n noRetryS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, o ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	return n.c.CreateMultipartUpload(ctx, in, noRetry(o)...)
}

func (n noRetryS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, o ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	return n.c.CompleteMultipartUpload(ctx, in, noRetry(o)...)
}

func (n noRetryS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, o ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	return n.c.AbortMultipartUpload(ctx, in, noRetry(o)...)
}

func (n noRetryS3) GetObject(ctx context.Context, in *s3.GetObjectInput, o ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	return n.c.GetObject(ctx, in, noRetry(o)...)
}

func (n noRetryS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, o ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return n.c.HeadObject(ctx, in, noRetry(o)...)
}

func (n noRetryS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, o ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	return n.c.ListObjectsV2(ctx, in, noRetry(o)...)
}
