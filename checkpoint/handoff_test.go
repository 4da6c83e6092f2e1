package checkpoint

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runHandoffContract checks the HandoffStore semantics (graceful handoff, throughput
// reports) on a fresh store per subtest.
func runHandoffContract(t *testing.T, newStore func(t *testing.T) HandoffStore) {
	setup := func(t *testing.T) (context.Context, HandoffStore, Lease) {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		s := newStore(t)
		_, err := s.CreateLease(c, Lease{Key: "shardId-000000000001", Checkpoint: PositionTrimHorizon})
		require.NoError(t, err)
		l, err := s.TakeLease(c, Lease{Key: "shardId-000000000001"}, "old")
		require.NoError(t, err)
		return c, s, l
	}

	t.Run("OldOwnerCheckpointsThenFinishes", func(t *testing.T) {
		c, s, l := setup(t)
		marked, err := s.StartHandoff(c, l, "new")
		require.NoError(t, err)
		assert.Equal(t, "new", marked.Owner)
		assert.Equal(t, "old", marked.CheckpointOwner)
		assert.Equal(t, l.Counter+1, marked.Counter)
		assert.True(t, marked.InHandoff())

		// The old owner's pre-mark view is fenced off.
		_, err = s.Checkpoint(c, l, ExtendedSequenceNumber{SequenceNumber: "12"})
		require.ErrorIs(t, err, ErrLeaseConflict)

		// With the marked lease it may renew and checkpoint.
		renewed, err := s.RenewLease(c, marked)
		require.NoError(t, err)
		assert.Equal(t, "old", renewed.CheckpointOwner, "a renew keeps the handoff")
		cp, err := s.Checkpoint(c, renewed, ExtendedSequenceNumber{SequenceNumber: "12"})
		require.NoError(t, err)
		assert.Equal(t, "old", cp.CheckpointOwner, "a checkpoint keeps the handoff")

		done, err := s.FinishHandoff(c, cp)
		require.NoError(t, err)
		assert.Equal(t, "new", done.Owner)
		assert.Empty(t, done.CheckpointOwner)
		assert.Equal(t, "12", done.Checkpoint.SequenceNumber)
		got, err := s.GetLease(c, l.Key)
		require.NoError(t, err)
		assert.Equal(t, done, got)

		// The new owner now owns it as after a take.
		_, err = s.RenewLease(c, got)
		require.NoError(t, err)
	})

	t.Run("SecondMarkConflicts", func(t *testing.T) {
		c, s, l := setup(t)
		marked, err := s.StartHandoff(c, l, "new")
		require.NoError(t, err)
		_, err = s.StartHandoff(c, l, "third")
		require.ErrorIs(t, err, ErrLeaseConflict, "stale counter")
		_, err = s.StartHandoff(c, Lease{Key: l.Key, Owner: "new", Counter: marked.Counter}, "third")
		require.ErrorIs(t, err, ErrLeaseConflict, "a handoff is already in progress")
		got, err := s.GetLease(c, l.Key)
		require.NoError(t, err)
		assert.Equal(t, marked, got)
	})

	t.Run("MarkNeedsTheCurrentOwner", func(t *testing.T) {
		c, s, l := setup(t)
		_, err := s.StartHandoff(c, Lease{Key: l.Key, Owner: "someone-else", Counter: l.Counter}, "new")
		require.ErrorIs(t, err, ErrLeaseConflict)
		_, err = s.StartHandoff(c, l, "")
		require.ErrorIs(t, err, ErrInvalidLease)
		_, err = s.StartHandoff(c, l, "old")
		require.ErrorIs(t, err, ErrInvalidLease)
		_, err = s.StartHandoff(c, Lease{Key: l.Key, Counter: l.Counter}, "new")
		require.ErrorIs(t, err, ErrInvalidLease)
	})

	t.Run("ForcedTakeEndsTheHandoffAndFencesTheOldOwner", func(t *testing.T) {
		c, s, l := setup(t)
		marked, err := s.StartHandoff(c, l, "new")
		require.NoError(t, err)
		taken, err := s.TakeLease(c, marked, "new")
		require.NoError(t, err)
		assert.Equal(t, "new", taken.Owner)
		assert.Empty(t, taken.CheckpointOwner)
		_, err = s.Checkpoint(c, marked, ExtendedSequenceNumber{SequenceNumber: "12"})
		require.ErrorIs(t, err, ErrLeaseConflict)
		_, err = s.FinishHandoff(c, marked)
		require.ErrorIs(t, err, ErrLeaseConflict)
	})

	t.Run("FinishWithoutHandoffConflicts", func(t *testing.T) {
		c, s, l := setup(t)
		_, err := s.FinishHandoff(c, l)
		require.ErrorIs(t, err, ErrLeaseConflict)
	})

	t.Run("ReleaseEndsTheHandoff", func(t *testing.T) {
		c, s, l := setup(t)
		marked, err := s.StartHandoff(c, l, "new")
		require.NoError(t, err)
		released, err := s.ReleaseLease(c, marked)
		require.NoError(t, err)
		assert.Empty(t, released.Owner)
		assert.Empty(t, released.CheckpointOwner)
	})

	t.Run("RenewRecordsThroughput", func(t *testing.T) {
		c, s, l := setup(t)
		l.ThroughputKBps = 512.25
		renewed, err := s.RenewLease(c, l)
		require.NoError(t, err)
		assert.Equal(t, 512.25, renewed.ThroughputKBps)
		listed, err := s.ListLeases(c)
		require.NoError(t, err)
		require.Len(t, listed, 1)
		assert.Equal(t, 512.25, listed[0].ThroughputKBps)
		renewed.ThroughputKBps = 0 // idle: the attribute goes
		again, err := s.RenewLease(c, renewed)
		require.NoError(t, err)
		assert.Zero(t, again.ThroughputKBps)
	})
}

func TestMemoryHandoffContract(t *testing.T) {
	runHandoffContract(t, func(*testing.T) HandoffStore { return NewMemory() })
}

func TestDynamoDBHandoffContract(t *testing.T) {
	runHandoffContract(t, func(t *testing.T) HandoffStore {
		s, _ := newTestTable(t)
		return s
	})
}

func TestHandoffItemIsWhatKCL3Writes(t *testing.T) {
	// A lease in a KCL 3.x graceful handoff, as KCL 3.x's DynamoDBLeaseSerializer writes it:
	// checkpointOwner a String, throughputKBps a Number (a double).
	item := map[string]types.AttributeValue{
		"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000003"},
		"leaseOwner":                   &types.AttributeValueMemberS{Value: "worker-new"},
		"checkpointOwner":              &types.AttributeValueMemberS{Value: "worker-old"},
		"leaseCounter":                 &types.AttributeValueMemberN{Value: "15"},
		"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "0"},
		"checkpoint":                   &types.AttributeValueMemberS{Value: "49590338271490256608559692538361571095921575989136588898"},
		"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
		"throughputKBps":               &types.AttributeValueMemberN{Value: "97.5"},
	}
	lease := Lease{
		Key: "shardId-000000000003", Owner: "worker-new", CheckpointOwner: "worker-old", Counter: 15,
		Checkpoint:     ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588898"},
		ThroughputKBps: 97.5,
	}
	assert.Equal(t, typed(item), typed(leaseToItem(lease)))
	back, err := itemToLease(item)
	require.NoError(t, err)
	assert.Equal(t, lease, back)

	// A 2.x item (no 3.x attributes) is a lease with no handoff and no throughput.
	delete(item, "checkpointOwner")
	delete(item, "throughputKBps")
	back, err = itemToLease(item)
	require.NoError(t, err)
	assert.False(t, back.InHandoff())
	assert.Zero(t, back.ThroughputKBps)

	item["throughputKBps"] = &types.AttributeValueMemberS{Value: "fast"}
	_, err = itemToLease(item)
	require.ErrorIs(t, err, ErrMalformedLease)
}

func TestOwnerSinceCounterIsANumberKCLItemsDoNotHave(t *testing.T) {
	// A lease that moved at counter 14, as this library writes it: the KCL 3.x item plus
	// ownerSinceCounter, a Number.
	lease := Lease{
		Key: "shardId-000000000003", Owner: "worker-new", Counter: 15, OwnerSwitchesSinceCheckpoint: 1,
		Checkpoint:        ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588898"},
		ThroughputKBps:    97.5,
		OwnerSinceCounter: 14,
	}
	item := map[string]types.AttributeValue{
		"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000003"},
		"leaseOwner":                   &types.AttributeValueMemberS{Value: "worker-new"},
		"leaseCounter":                 &types.AttributeValueMemberN{Value: "15"},
		"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "1"},
		"checkpoint":                   &types.AttributeValueMemberS{Value: "49590338271490256608559692538361571095921575989136588898"},
		"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
		"throughputKBps":               &types.AttributeValueMemberN{Value: "97.5"},
		"ownerSinceCounter":            &types.AttributeValueMemberN{Value: "14"},
	}
	assert.Equal(t, typed(item), typed(leaseToItem(lease)))
	back, err := itemToLease(item)
	require.NoError(t, err)
	assert.Equal(t, lease, back)

	// The KCL writes no such attribute: its leases read as not moved.
	delete(item, "ownerSinceCounter")
	back, err = itemToLease(item)
	require.NoError(t, err)
	assert.Zero(t, back.OwnerSinceCounter)

	item["ownerSinceCounter"] = &types.AttributeValueMemberS{Value: "14"}
	_, err = itemToLease(item)
	require.ErrorIs(t, err, ErrMalformedLease)
}

func TestDynamoDBRecordsMovesOnKCL3Items(t *testing.T) {
	// A KCL 3.x worker's item, with an attribute this library does not know, taken over by
	// this library's worker: ownerSinceCounter is added, everything else keeps the KCL
	// shape, and the KCL's own attributes stay.
	store, client := newTestTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rawPut(t, client, store.TableName(), map[string]types.AttributeValue{
		"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000009"},
		"leaseOwner":                   &types.AttributeValueMemberS{Value: "java-worker"},
		"leaseCounter":                 &types.AttributeValueMemberN{Value: "77"},
		"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "0"},
		"checkpoint":                   &types.AttributeValueMemberS{Value: "LATEST"},
		"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
		"throughputKBps":               &types.AttributeValueMemberN{Value: "12.5"},
		"entityType":                   &types.AttributeValueMemberS{Value: "LEASE"},
	})
	l, err := store.GetLease(ctx, "shardId-000000000009")
	require.NoError(t, err)
	assert.Zero(t, l.OwnerSinceCounter, "a KCL item records no move")
	taken, err := store.TakeLease(ctx, l, "go-worker")
	require.NoError(t, err)
	assert.Equal(t, int64(78), taken.OwnerSinceCounter)
	assert.Equal(t, map[string]string{
		"leaseKey":                     "S:shardId-000000000009",
		"leaseOwner":                   "S:go-worker",
		"leaseCounter":                 "N:78",
		"ownerSwitchesSinceCheckpoint": "N:1",
		"checkpoint":                   "S:LATEST",
		"checkpointSubSequenceNumber":  "N:0",
		"throughputKBps":               "N:12.5",
		"entityType":                   "S:LEASE",
		"ownerSinceCounter":            "N:78",
	}, typed(rawGet(t, client, store.TableName(), "shardId-000000000009")))
}
