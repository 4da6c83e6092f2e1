package faults_test

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

const shard0 = "shardId-000000000000"

func TestThrottledPutRecordsEntriesFailWhileTheOthersAreWritten(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	var hits []int
	inj.Add(faults.Rule{
		Op:    "PutRecords",
		Entry: func(e faults.PutEntry) bool { return e.Index%3 == 1 },
		Fault: faults.ThrottleEntry(),
		Hook:  func(h faults.Hit) { hits = append(hits, h.Entry.Index) },
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)

	in := entries(7, "pk", 10)
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: in})
	if err != nil {
		t.Fatalf("PutRecords: %v", err)
	}
	if got := aws.ToInt32(out.FailedRecordCount); got != 2 {
		t.Errorf("FailedRecordCount = %d, want 2", got)
	}
	var written []string
	for k, r := range out.Records {
		if k%3 == 1 {
			if aws.ToString(r.ErrorCode) != "ProvisionedThroughputExceededException" || r.SequenceNumber != nil {
				t.Errorf("entry %d: ErrorCode %q SequenceNumber %v, want a throttled entry", k, aws.ToString(r.ErrorCode), r.SequenceNumber)
			}
			want := "Rate exceeded for shard " + shard0 + " in stream " + stream + " under account 123456789012."
			if aws.ToString(r.ErrorMessage) != want {
				t.Errorf("entry %d: ErrorMessage %q, want %q", k, aws.ToString(r.ErrorMessage), want)
			}
			continue
		}
		if r.ErrorCode != nil || r.SequenceNumber == nil || aws.ToString(r.ShardId) != shard0 {
			t.Errorf("entry %d: %+v, want a written entry", k, r)
		}
		written = append(written, *in[k].PartitionKey)
	}
	if len(hits) != 2 || hits[0] != 1 || hits[1] != 4 {
		t.Errorf("hook saw entries %v, want [1 4]", hits)
	}
	if got := inj.Injected("PutRecords"); got != 2 {
		t.Errorf("Injected(PutRecords) = %d, want 2", got)
	}

	var read []string
	for _, r := range readAll(t, env.Kinesis(), stream, shard0) {
		read = append(read, aws.ToString(r.PartitionKey))
	}
	sort.Strings(read)
	sort.Strings(written)
	if !equal(read, written) {
		t.Errorf("stream holds %v, want exactly the written entries %v", read, written)
	}
}

func TestInternalFailureEntryAndTimesBudget(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	inj.Add(faults.Rule{Op: "PutRecords", Times: 2, Fault: faults.InternalFailureEntry()})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)

	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(3, "a", 1)})
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{aws.ToString(out.Records[0].ErrorCode), aws.ToString(out.Records[1].ErrorCode), aws.ToString(out.Records[2].ErrorCode)}
	if !equal(codes, []string{"InternalFailure", "InternalFailure", ""}) || aws.ToInt32(out.FailedRecordCount) != 2 {
		t.Fatalf("codes %q FailedRecordCount %d, want the first two entries failed", codes, aws.ToInt32(out.FailedRecordCount))
	}
	// The budget is spent: the next call goes through whole.
	out, err = client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(3, "b", 1)})
	if err != nil || aws.ToInt32(out.FailedRecordCount) != 0 {
		t.Fatalf("second PutRecords: %v, FailedRecordCount %d, want all written", err, aws.ToInt32(out.FailedRecordCount))
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 4 {
		t.Fatalf("stream holds %d records, want 4", n)
	}
}

func TestAllEntriesFailedIsAnsweredWithoutTheEmulator(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	inj.Add(faults.Rule{Op: "PutRecords", Fault: faults.ThrottleEntry()})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(4, "x", 5)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt32(out.FailedRecordCount) != 4 {
		t.Fatalf("FailedRecordCount = %d, want 4", aws.ToInt32(out.FailedRecordCount))
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 0 {
		t.Fatalf("stream holds %d records, want none", n)
	}
}

func TestEntryFaultsSelectByShard(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 2)
	inj := newInjector(t)
	const shard1 = "shardId-000000000001"
	inj.Add(faults.Rule{Op: "PutRecords", Shard: shard1, Fault: faults.ThrottleEntry()})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)

	in := entries(20, "s", 1)
	out, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: in})
	if err != nil {
		t.Fatal(err)
	}
	var failed int
	for k, r := range out.Records {
		if r.ErrorCode != nil {
			failed++
			continue
		}
		if aws.ToString(r.ShardId) != shard0 {
			t.Errorf("entry %d written to %s; every entry of %s should have failed", k, aws.ToString(r.ShardId), shard1)
		}
	}
	ok := len(readAll(t, env.Kinesis(), stream, shard0))
	if failed == 0 || ok == 0 || failed+ok != len(in) {
		t.Fatalf("%d failed, %d written to %s; want the %d entries split between the shards", failed, ok, shard0, len(in))
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard1)); n != 0 {
		t.Fatalf("%s holds %d records, want none", shard1, n)
	}
}

func TestWholeCallErrorsSurfaceAsAPIErrors(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	for _, tc := range []struct {
		name   string
		fault  faults.Fault
		status int
		code   string
	}{
		{"500", faults.InternalFailure(), 500, "InternalFailure"},
		{"503", faults.ServiceUnavailable(), 503, "ServiceUnavailable"},
		{"throttling", faults.Throttling(), 400, "ThrottlingException"},
		{"limit", faults.LimitExceeded(), 400, "LimitExceededException"},
		{"kms", faults.KMSAccessDenied(), 400, "KMSAccessDeniedException"},
		{"validation", faults.Validation("bad"), 400, "ValidationException"},
		{"custom", faults.Error(418, "TeapotException", "short and stout"), 418, "TeapotException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inj := newInjector(t)
			inj.Add(faults.Rule{Op: "ListShards", Fault: tc.fault})
			client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
			_, err := client.ListShards(ctxT(t), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.code {
				t.Fatalf("err = %v, want an APIError with code %s", err, tc.code)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tc.status {
				t.Fatalf("err = %v, want HTTP status %d", err, tc.status)
			}
			if inj.Calls("ListShards") != 1 || inj.Injected("ListShards") != 1 {
				t.Fatalf("Calls %d Injected %d, want 1 and 1", inj.Calls("ListShards"), inj.Injected("ListShards"))
			}
		})
	}
}

func TestSDKRetryerRetriesServerErrors(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	inj.Add(faults.Rule{Op: "ListShards", Times: 1, Fault: faults.InternalFailure()})
	inj.Add(faults.Rule{Op: "ListShards", Times: 1, Fault: faults.ServiceUnavailable()})
	client := env.Kinesis(func(o *kinesis.Options) {
		o.HTTPClient = inj.HTTPClient()
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = 3
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	out, err := client.ListShards(ctxT(t), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatalf("ListShards with retries: %v", err)
	}
	if len(out.Shards) != 1 {
		t.Fatalf("got %d shards, want 1", len(out.Shards))
	}
	if got := inj.Calls("ListShards"); got != 3 {
		t.Fatalf("Calls(ListShards) = %d, want 3 (500, 503, success)", got)
	}
}

func TestProvisionedThroughputExceededIsTheModeledError(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String(shard0), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		t.Fatal(err)
	}
	var seen *faults.Call
	inj.Add(faults.Rule{Op: "GetRecords", Times: 1, Fault: faults.ProvisionedThroughputExceeded(),
		Hook: func(h faults.Hit) { seen = h.Call }})
	inj.Add(faults.Rule{Op: "GetRecords", Times: 1, Fault: faults.ExpiredIterator()})

	_, err = client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	var pte *types.ProvisionedThroughputExceededException
	if !errors.As(err, &pte) {
		t.Fatalf("err = %v, want *types.ProvisionedThroughputExceededException", err)
	}
	want := "Rate exceeded for shard " + shard0 + " in stream " + stream + " under account 123456789012."
	if pte.ErrorMessage() != want {
		t.Errorf("message %q, want %q", pte.ErrorMessage(), want)
	}
	if seen == nil || seen.Shard != shard0 || seen.Stream != stream {
		t.Errorf("hook saw %+v, want the iterator's stream and shard", seen)
	}
	_, err = client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	var exp *types.ExpiredIteratorException
	if !errors.As(err, &exp) {
		t.Fatalf("err = %v, want *types.ExpiredIteratorException", err)
	}
	if _, err = client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator}); err != nil {
		t.Fatalf("third GetRecords: %v, want success once both rules are spent", err)
	}
}

func TestDynamoDBFaults(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	table := testbed.UniqueName("faults")
	plain := env.DynamoDB()
	_, err := plain.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = plain.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	inj := newInjector(t)
	client := env.DynamoDB(func(o *dynamodb.Options) {
		o.HTTPClient = inj.HTTPClient()
		o.Retryer = aws.NopRetryer{}
	})
	put := func() error {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "v"}}})
		return err
	}

	t.Run("AccessDenied", func(t *testing.T) {
		defer inj.Add(faults.Rule{Service: faults.ServiceDynamoDB, Op: "PutItem", Table: table, Fault: faults.AccessDenied()})()
		err := put()
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDeniedException" {
			t.Fatalf("err = %v, want AccessDeniedException", err)
		}
		want := "User: arn:aws:iam::123456789012:user/test is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:123456789012:table/" + table
		if apiErr.ErrorMessage() != want {
			t.Fatalf("message %q, want %q", apiErr.ErrorMessage(), want)
		}
	})
	t.Run("ProvisionedThroughputExceeded", func(t *testing.T) {
		defer inj.Add(faults.Rule{Op: "PutItem", Fault: faults.ProvisionedThroughputExceeded()})()
		var pte *ddbtypes.ProvisionedThroughputExceededException
		if err := put(); !errors.As(err, &pte) {
			t.Fatalf("err = %v, want *types.ProvisionedThroughputExceededException", err)
		}
	})
	t.Run("ResourceNotFound", func(t *testing.T) {
		defer inj.Add(faults.Rule{Op: "PutItem", Fault: faults.ResourceNotFound()})()
		var rnf *ddbtypes.ResourceNotFoundException
		if err := put(); !errors.As(err, &rnf) {
			t.Fatalf("err = %v, want *types.ResourceNotFoundException", err)
		}
	})
	t.Run("InternalServerError", func(t *testing.T) {
		defer inj.Add(faults.Rule{Op: "PutItem", Fault: faults.InternalFailure()})()
		var ise *ddbtypes.InternalServerError
		if err := put(); !errors.As(err, &ise) {
			t.Fatalf("err = %v, want *types.InternalServerError", err)
		}
	})
	t.Run("RemovedRulesNoLongerApply", func(t *testing.T) {
		if err := put(); err != nil {
			t.Fatalf("PutItem after the rules were removed: %v", err)
		}
	})
}

func TestConnectionResetIsRetryableAndWritesNothing(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	inj.Add(faults.Rule{Op: "PutRecords", Times: 1, Fault: faults.ConnectionReset()})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)

	_, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(2, "r", 1)})
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("err = %v, want one wrapping ECONNRESET", err)
	}
	if !retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() {
		t.Fatalf("the SDK does not classify %v as retryable", err)
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 0 {
		t.Fatalf("stream holds %d records after a reset before forwarding, want none", n)
	}

	// With the standard retryer the SDK retries the reset by itself.
	inj.Add(faults.Rule{Op: "PutRecords", Times: 1, Fault: faults.ConnectionReset()})
	retrying := env.Kinesis(func(o *kinesis.Options) {
		o.HTTPClient = inj.HTTPClient()
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	if _, err := retrying.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(2, "r", 1)}); err != nil {
		t.Fatalf("PutRecords with the SDK's retryer: %v", err)
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 2 {
		t.Fatalf("stream holds %d records, want 2", n)
	}
}

func TestAmbiguousFailuresWriteTheRecords(t *testing.T) {
	env := testbed.Get(t)
	for _, tc := range []struct {
		name  string
		fault faults.Fault
		check func(t *testing.T, err error)
	}{
		{"reset", faults.After(faults.ConnectionReset()), func(t *testing.T, err error) {
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("err = %v, want ECONNRESET", err)
			}
		}},
		{"500", faults.After(faults.InternalFailure()), func(t *testing.T, err error) {
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InternalFailure" {
				t.Fatalf("err = %v, want InternalFailure", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := ctxT(t)
			stream := env.CreateStream(t, 1)
			inj := newInjector(t)
			inj.Add(faults.Rule{Op: "PutRecords", Fault: tc.fault})
			client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
			_, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: entries(3, "amb", 1)})
			tc.check(t, err)
			if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 3 {
				t.Fatalf("stream holds %d records, want the 3 the client was told failed", n)
			}
		})
	}
}

func TestDelayHonoursContextCancellation(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	inj.Add(faults.Rule{Op: "ListShards", Fault: faults.Delay(time.Hour), Hook: func(faults.Hit) { cancel() }})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	_, err := client.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDelayThenForwards(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	inj := newInjector(t)
	const d = 50 * time.Millisecond
	inj.Add(faults.Rule{Op: "ListShards", Times: 1, Fault: faults.Delay(d)})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	start := time.Now()
	out, err := client.ListShards(ctxT(t), &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil || len(out.Shards) != 1 {
		t.Fatalf("ListShards after a delay: %v", err)
	}
	if el := time.Since(start); el < d {
		t.Fatalf("call took %v, want at least the %v delay", el, d)
	}
	if inj.Injected("ListShards") != 1 {
		t.Fatalf("Injected = %d, want 1", inj.Injected("ListShards"))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

var _ http.RoundTripper = (*faults.Injector)(nil)
