package consumer

import (
	"context"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// resharder is the part of *kinesis.Client (and of the fake) the reshard tests use.
type resharder interface {
	Client
	putter
	SplitShard(ctx context.Context, in *kinesis.SplitShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error)
	MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, optFns ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error)
	UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, optFns ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error)
}

func waitActive(t testing.TB, k resharder, stream string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := k.DescribeStreamSummary(context.Background(), &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(stream)})
		if err != nil {
			t.Fatal(err)
		}
		if out.StreamDescriptionSummary.StreamStatus == types.StreamStatusActive {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s not ACTIVE after 30s", stream)
		}
		time.Sleep(50 * time.Millisecond) // the emulator forces polling
	}
}

func openShards(t testing.TB, k resharder, stream string) []types.Shard {
	t.Helper()
	out, err := k.ListShards(context.Background(), &kinesis.ListShardsInput{StreamName: aws.String(stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest}})
	if err != nil {
		t.Fatal(err)
	}
	return out.Shards
}

// reshardScenario consumes a 4-shard stream with two workers while it is split, merged
// and scaled with UpdateShardCount, and checks that nothing is missing, that parents
// finish before their children start, that per-key order holds, and that every lease is
// created exactly once.
func reshardScenario(t *testing.T, k resharder, stream string, store checkpoint.Store, opts func(t testing.TB, worker string, extra ...func(*Options)) []func(*Options), perBatch int) {
	ctx := context.Background()
	cs := newCountingStore(store)
	r := newRecorder()
	for _, id := range []string{"w1", "w2"} {
		c, err := New(k, stream, cs, r.factory(id), opts(t, id)...)
		if err != nil {
			t.Fatal(err)
		}
		runConsumer(t, c)
	}
	want := putRecords(t, k, stream, 32, perBatch, "a")
	r.waitFor(t, 60*time.Second, "half of the first batch", func() bool { return r.distinct() >= perBatch/2 })

	// Split the first open shard in the middle of its range.
	s0 := openShards(t, k, stream)[0]
	lo, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.StartingHashKey), 10)
	hi, _ := new(big.Int).SetString(aws.ToString(s0.HashKeyRange.EndingHashKey), 10)
	mid := new(big.Int).Rsh(new(big.Int).Add(lo, hi), 1)
	if _, err := k.SplitShard(ctx, &kinesis.SplitShardInput{StreamName: aws.String(stream), ShardToSplit: s0.ShardId, NewStartingHashKey: aws.String(mid.String())}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, k, stream)
	want = append(want, putRecords(t, k, stream, 32, perBatch, "b")...)

	// Merge the last two open shards (adjacent: the highest hash ranges).
	open := openShards(t, k, stream)
	var last, prev types.Shard
	for _, s := range open {
		if aws.ToString(s.HashKeyRange.EndingHashKey) == "340282366920938463463374607431768211455" {
			last = s
		}
	}
	for _, s := range open {
		end, _ := new(big.Int).SetString(aws.ToString(s.HashKeyRange.EndingHashKey), 10)
		start, _ := new(big.Int).SetString(aws.ToString(last.HashKeyRange.StartingHashKey), 10)
		if new(big.Int).Add(end, big.NewInt(1)).Cmp(start) == 0 {
			prev = s
		}
	}
	if _, err := k.MergeShards(ctx, &kinesis.MergeShardsInput{StreamName: aws.String(stream), ShardToMerge: prev.ShardId, AdjacentShardToMerge: last.ShardId}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, k, stream)
	want = append(want, putRecords(t, k, stream, 32, perBatch, "c")...)

	if _, err := k.UpdateShardCount(ctx, &kinesis.UpdateShardCountInput{StreamName: aws.String(stream), TargetShardCount: aws.Int32(6),
		ScalingType: types.ScalingTypeUniformScaling}); err != nil {
		t.Fatal(err)
	}
	waitActive(t, k, stream)
	want = append(want, putRecords(t, k, stream, 32, perBatch, "d")...)

	r.waitFor(t, 120*time.Second, "every record", func() bool { return r.distinct() >= len(want) })
	r.checkComplete(t, want)

	// Parents before children: a child's first Initialize comes after its parents ended.
	leases, err := store.ListLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	events := r.eventsCopy()
	index := func(kind, shard string) int {
		for i, e := range events {
			f := strings.Fields(e)
			if f[0] == kind && f[2] == shard {
				return i
			}
		}
		return -1
	}
	byKey := map[string]checkpoint.Lease{}
	for _, l := range leases {
		byKey[l.Key] = l
	}
	for _, l := range leases {
		init := index("init", l.Key)
		for _, p := range l.ParentShardIDs {
			if _, ok := byKey[p]; !ok {
				continue
			}
			if end := index("ended", p); end < 0 || init >= 0 && init < end {
				t.Errorf("shard %s initialized (event %d) before its parent %s ended (event %d)", l.Key, init, p, end)
			}
		}
	}
	shards, err := k.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(stream)})
	if err != nil {
		t.Fatal(err)
	}
	_, created := cs.snapshot()
	for _, s := range shards.Shards {
		id := aws.ToString(s.ShardId)
		l, ok := byKey[id]
		if !ok {
			t.Errorf("shard %s has no lease", id)
			continue
		}
		if created[id] != 1 {
			t.Errorf("lease %s created %d times", id, created[id])
		}
		closed := s.SequenceNumberRange.EndingSequenceNumber != nil
		if closed != l.Checkpoint.IsShardEnd() {
			t.Errorf("shard %s closed=%v but its lease is at %s", id, closed, l.Checkpoint)
		}
	}
	t.Logf("%d shards, %d records delivered %d times", len(shards.Shards), len(want), r.total())
}

func TestReshardingDuringConsumptionInMemory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake, stream := newFakeStream(t, 4)
		reshardScenario(t, fake, stream, checkpoint.NewMemory(), fastOptions, 300)
	})
}

func TestReshardingDuringConsumption(t *testing.T) {
	env := emulators(t)
	stream := env.CreateStream(t, 4)
	reshardScenario(t, env.Kinesis(), stream, newStore(t, env), testOptions, 200)
}

var _ = fmt.Sprint
