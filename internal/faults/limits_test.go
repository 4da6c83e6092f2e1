package faults_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

// putAll puts recs in calls of 500 and returns how many entries failed with code.
func putAll(t *testing.T, c *kinesis.Client, stream string, recs []types.PutRecordsRequestEntry) (failed map[string]int) {
	t.Helper()
	failed = map[string]int{}
	for len(recs) > 0 {
		n := min(500, len(recs))
		out, err := c.PutRecords(ctxT(t), &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs[:n]})
		if err != nil {
			t.Fatalf("PutRecords: %v", err)
		}
		got := 0
		for _, r := range out.Records {
			if r.ErrorCode != nil {
				failed[*r.ErrorCode]++
				got++
			}
		}
		if int(aws.ToInt32(out.FailedRecordCount)) != got {
			t.Fatalf("FailedRecordCount %d, but %d entries carry an ErrorCode", aws.ToInt32(out.FailedRecordCount), got)
		}
		recs = recs[n:]
	}
	return failed
}

func TestShardLimitsFailRecordsOverOneThousandPerSecond(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	clock := newFakeClock()
	inj := newInjector(t, func(o *faults.Options) {
		o.Now = clock.Now
		o.ShardLimits = &faults.ShardLimits{}
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)

	failed := putAll(t, client, stream, entries(1500, "burst", 1))
	if len(failed) != 1 || failed["ProvisionedThroughputExceededException"] != 500 {
		t.Fatalf("failed entries by code: %v, want exactly 500 ProvisionedThroughputExceededException", failed)
	}
	// Half a second refills half the bucket.
	clock.Advance(500 * time.Millisecond)
	failed = putAll(t, client, stream, entries(501, "later", 1))
	if failed["ProvisionedThroughputExceededException"] != 1 {
		t.Fatalf("after 500ms: failed entries %v, want 1 of 501", failed)
	}
	if n := len(readAll(t, env.Kinesis(), stream, shard0)); n != 1500 {
		t.Fatalf("stream holds %d records, want the 1500 accepted", n)
	}
	if got := inj.Injected("PutRecords"); got != 501 {
		t.Fatalf("Injected(PutRecords) = %d, want 501", got)
	}
}

func TestShardLimitsCountBytes(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	clock := newFakeClock()
	inj := newInjector(t, func(o *faults.Options) {
		o.Now = clock.Now
		o.ShardLimits = &faults.ShardLimits{BytesPerSecond: 1000}
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	recs := make([]types.PutRecordsRequestEntry, 12)
	for k := range recs {
		recs[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String("k"), Data: make([]byte, 99)} // 100 bytes
	}
	if failed := putAll(t, client, stream, recs); failed["ProvisionedThroughputExceededException"] != 2 {
		t.Fatalf("failed %v, want 2 of 12 100-byte records over 1000 B/s", failed)
	}
	clock.Advance(100 * time.Millisecond)
	if failed := putAll(t, client, stream, recs[:2]); failed["ProvisionedThroughputExceededException"] != 1 {
		t.Fatalf("after 100ms: failed %v, want 1 of 2", failed)
	}
}

func TestShardLimitsArePerShard(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 2)
	clock := newFakeClock()
	inj := newInjector(t, func(o *faults.Options) {
		o.Now = clock.Now
		o.ShardLimits = &faults.ShardLimits{RecordsPerSecond: 10}
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	recs := make([]types.PutRecordsRequestEntry, 40)
	for k := range recs {
		h := "0" // first shard
		if k%2 == 1 {
			h = "340282366920938463463374607431768211455" // last shard
		}
		recs[k] = types.PutRecordsRequestEntry{PartitionKey: aws.String("p"), ExplicitHashKey: aws.String(h), Data: []byte{1}}
	}
	if failed := putAll(t, client, stream, recs); failed["ProvisionedThroughputExceededException"] != 20 {
		t.Fatalf("failed %v, want 20: 10 accepted per shard", failed)
	}
	for _, s := range []string{shard0, "shardId-000000000001"} {
		if n := len(readAll(t, env.Kinesis(), stream, s)); n != 10 {
			t.Errorf("%s holds %d records, want 10", s, n)
		}
	}
}

func TestShardLimitsThrottlePutRecord(t *testing.T) {
	env := testbed.Get(t)
	stream := env.CreateStream(t, 1)
	clock := newFakeClock()
	inj := newInjector(t, func(o *faults.Options) {
		o.Now = clock.Now
		o.ShardLimits = &faults.ShardLimits{RecordsPerSecond: 2}
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	put := func() error {
		_, err := client.PutRecord(ctxT(t), &kinesis.PutRecordInput{StreamName: aws.String(stream), PartitionKey: aws.String("a"), Data: []byte("x")})
		return err
	}
	for k := 0; k < 2; k++ {
		if err := put(); err != nil {
			t.Fatalf("PutRecord %d: %v", k, err)
		}
	}
	var pte *types.ProvisionedThroughputExceededException
	if err := put(); !errors.As(err, &pte) {
		t.Fatalf("third PutRecord: %v, want ProvisionedThroughputExceededException", err)
	}
	if !strings.Contains(pte.ErrorMessage(), shard0) {
		t.Errorf("message %q does not name the shard", pte.ErrorMessage())
	}
}

func TestShardLimitsThrottleGetRecordsOverFivePerSecond(t *testing.T) {
	env := testbed.Get(t)
	ctx := ctxT(t)
	stream := env.CreateStream(t, 2)
	clock := newFakeClock()
	inj := newInjector(t, func(o *faults.Options) {
		o.Now = clock.Now
		o.ShardLimits = &faults.ShardLimits{}
	})
	client := env.Kinesis(func(o *kinesis.Options) { o.HTTPClient = inj.HTTPClient() }, noRetry)
	iterator := func(shard string) *string {
		out, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
			StreamName: aws.String(stream), ShardId: aws.String(shard), ShardIteratorType: types.ShardIteratorTypeLatest,
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.ShardIterator
	}
	it0, it1 := iterator(shard0), iterator("shardId-000000000001")
	get := func(it *string) (*string, error) {
		out, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it})
		if err != nil {
			return it, err
		}
		return out.NextShardIterator, nil
	}
	var err error
	for k := 0; k < 5; k++ { // follows the iterator chain: lineage keeps the shard
		if it0, err = get(it0); err != nil {
			t.Fatalf("GetRecords %d: %v", k, err)
		}
	}
	var pte *types.ProvisionedThroughputExceededException
	if _, err = get(it0); !errors.As(err, &pte) {
		t.Fatalf("sixth GetRecords within a second: %v, want ProvisionedThroughputExceededException", err)
	}
	if _, err = get(it1); err != nil {
		t.Fatalf("GetRecords on the other shard: %v, want its own budget", err)
	}
	clock.Advance(200 * time.Millisecond)
	if it0, err = get(it0); err != nil {
		t.Fatalf("GetRecords 200ms later: %v", err)
	}
	if _, err = get(it0); !errors.As(err, &pte) {
		t.Fatalf("second GetRecords 200ms later: %v, want ProvisionedThroughputExceededException", err)
	}
	if got := inj.Injected("GetRecords"); got != 2 {
		t.Fatalf("Injected(GetRecords) = %d, want 2", got)
	}
}
