package checkpoint_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// Two workers compete for a shard's lease; the one that lost it can no longer checkpoint.
func Example() {
	ctx := context.Background()
	store := checkpoint.NewMemory() // or checkpoint.NewDynamoDB(dynamodbClient, "my-app")

	lease, err := store.CreateLease(ctx, checkpoint.Lease{
		Key:        "shardId-000000000000",
		Checkpoint: checkpoint.PositionTrimHorizon,
	})
	if err != nil {
		panic(err)
	}

	// Worker A takes the lease and checkpoints a KPL-aggregated record's third user record.
	a, _ := store.TakeLease(ctx, lease, "worker-a")
	a, _ = store.Checkpoint(ctx, a, checkpoint.ExtendedSequenceNumber{
		SequenceNumber:    "49590338271490256608559692538361571095921575989136588898",
		SubSequenceNumber: 2,
	})
	fmt.Println("A:", a.Owner, a.Counter, a.Checkpoint)

	// Worker B saw A's lease stop being renewed and takes it over.
	b, _ := store.TakeLease(ctx, a, "worker-b")
	fmt.Println("B:", b.Owner, b.Counter, "owner switches:", b.OwnerSwitchesSinceCheckpoint)

	// A's next checkpoint is fenced off: the counter moved on.
	_, err = store.Checkpoint(ctx, a, checkpoint.ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588999"})
	fmt.Println("A lost the lease:", errors.Is(err, checkpoint.ErrLeaseConflict))

	// B resumes where A checkpointed.
	cp, _ := store.GetLease(ctx, "shardId-000000000000")
	fmt.Println("resume after:", cp.Checkpoint)
	// Output:
	// A: worker-a 2 49590338271490256608559692538361571095921575989136588898/2
	// B: worker-b 3 owner switches: 1
	// A lost the lease: true
	// resume after: 49590338271490256608559692538361571095921575989136588898/2
}

// Positions order the way the KCL orders them: sentinels around sequence numbers,
// sequence numbers as integers, then subsequence numbers.
func ExampleExtendedSequenceNumber_Compare() {
	a := checkpoint.ExtendedSequenceNumber{SequenceNumber: "9"}
	b := checkpoint.ExtendedSequenceNumber{SequenceNumber: "10"}
	c := checkpoint.ExtendedSequenceNumber{SequenceNumber: "10", SubSequenceNumber: 1}
	fmt.Println(a.Compare(b), b.Compare(c), checkpoint.PositionLatest.Compare(a), checkpoint.PositionShardEnd.Compare(c))
	// Output: -1 -1 -1 1
}
