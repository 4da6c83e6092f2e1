package checkpoint

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// typed renders an item as attribute name -> "TYPE:value", so that a comparison checks
// the DynamoDB type of every attribute as well as its value (sets sorted).
func typed(item map[string]types.AttributeValue) map[string]string {
	out := make(map[string]string, len(item))
	for name, v := range item {
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			out[name] = "S:" + v.Value
		case *types.AttributeValueMemberN:
			out[name] = "N:" + v.Value
		case *types.AttributeValueMemberB:
			out[name] = "B:" + hex.EncodeToString(v.Value)
		case *types.AttributeValueMemberSS:
			s := slices.Clone(v.Value)
			slices.Sort(s)
			out[name] = "SS:" + strings.Join(s, ",")
		default:
			out[name] = fmt.Sprintf("%T", v)
		}
	}
	return out
}

// The leases and the items KCL 2.x writes for them (DynamoDBLeaseSerializer.toDynamoRecord),
// built by hand from the table schema in kcl.md.
var goldenLeases = []struct {
	name  string
	lease Lease
	item  map[string]types.AttributeValue
}{
	{
		name:  "new lease, unowned, at TRIM_HORIZON",
		lease: Lease{Key: "shardId-000000000000", Checkpoint: PositionTrimHorizon},
		item: map[string]types.AttributeValue{
			"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000000"},
			"leaseCounter":                 &types.AttributeValueMemberN{Value: "0"},
			"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "0"},
			"checkpoint":                   &types.AttributeValueMemberS{Value: "TRIM_HORIZON"},
			"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
		},
	},
	{
		name: "owned child lease with hash range, parents and a pending checkpoint",
		lease: Lease{
			Key: "shardId-000000000003", Owner: "host-1:4f1c", Counter: 1234,
			Checkpoint:                   seq(realSeq, 7),
			PendingCheckpoint:            &ExtendedSequenceNumber{SequenceNumber: "49590338271490256608559692538361571095921575989136588999", SubSequenceNumber: 2},
			PendingCheckpointState:       []byte{0xca, 0xfe},
			OwnerSwitchesSinceCheckpoint: 3,
			ParentShardIDs:               []string{"shardId-000000000001", "shardId-000000000002"},
			ChildShardIDs:                []string{"shardId-000000000004"},
			StartingHashKey:              "170141183460469231731687303715884105728",
			EndingHashKey:                "340282366920938463463374607431768211455",
		},
		item: map[string]types.AttributeValue{
			"leaseKey":                           &types.AttributeValueMemberS{Value: "shardId-000000000003"},
			"leaseOwner":                         &types.AttributeValueMemberS{Value: "host-1:4f1c"},
			"leaseCounter":                       &types.AttributeValueMemberN{Value: "1234"},
			"ownerSwitchesSinceCheckpoint":       &types.AttributeValueMemberN{Value: "3"},
			"checkpoint":                         &types.AttributeValueMemberS{Value: realSeq},
			"checkpointSubSequenceNumber":        &types.AttributeValueMemberN{Value: "7"},
			"pendingCheckpoint":                  &types.AttributeValueMemberS{Value: "49590338271490256608559692538361571095921575989136588999"},
			"pendingCheckpointSubSequenceNumber": &types.AttributeValueMemberN{Value: "2"},
			"pendingCheckpointState":             &types.AttributeValueMemberB{Value: []byte{0xca, 0xfe}},
			"parentShardId":                      &types.AttributeValueMemberSS{Value: []string{"shardId-000000000001", "shardId-000000000002"}},
			"childShardIds":                      &types.AttributeValueMemberSS{Value: []string{"shardId-000000000004"}},
			"startingHashKey":                    &types.AttributeValueMemberS{Value: "170141183460469231731687303715884105728"},
			"endingHashKey":                      &types.AttributeValueMemberS{Value: "340282366920938463463374607431768211455"},
		},
	},
	{
		name:  "finished parent at SHARD_END",
		lease: Lease{Key: "shardId-000000000001", Owner: "w", Counter: 9, Checkpoint: PositionShardEnd, ChildShardIDs: []string{"shardId-000000000003"}},
		item: map[string]types.AttributeValue{
			"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000001"},
			"leaseOwner":                   &types.AttributeValueMemberS{Value: "w"},
			"leaseCounter":                 &types.AttributeValueMemberN{Value: "9"},
			"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "0"},
			"checkpoint":                   &types.AttributeValueMemberS{Value: "SHARD_END"},
			"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
			"childShardIds":                &types.AttributeValueMemberSS{Value: []string{"shardId-000000000003"}},
		},
	},
}

func TestLeaseItemIsWhatKCL2Writes(t *testing.T) {
	for _, g := range goldenLeases {
		t.Run(g.name, func(t *testing.T) {
			assert.Equal(t, typed(g.item), typed(leaseToItem(g.lease)))
			back, err := itemToLease(g.item)
			require.NoError(t, err)
			assert.Equal(t, g.lease, back)
		})
	}
}

func TestItemToLeaseRejectsWrongTypes(t *testing.T) {
	base := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"leaseKey":     &types.AttributeValueMemberS{Value: "k"},
			"leaseCounter": &types.AttributeValueMemberN{Value: "1"},
		}
	}
	cases := map[string]func(map[string]types.AttributeValue){
		"counter as S": func(m map[string]types.AttributeValue) { m["leaseCounter"] = &types.AttributeValueMemberS{Value: "1"} },
		"counter not a number": func(m map[string]types.AttributeValue) {
			m["leaseCounter"] = &types.AttributeValueMemberN{Value: "1.5"}
		},
		"owner as N":   func(m map[string]types.AttributeValue) { m["leaseOwner"] = &types.AttributeValueMemberN{Value: "1"} },
		"parents as L": func(m map[string]types.AttributeValue) { m["parentShardId"] = &types.AttributeValueMemberL{} },
		"state as S": func(m map[string]types.AttributeValue) {
			m["pendingCheckpointState"] = &types.AttributeValueMemberS{Value: "x"}
		},
		"no leaseKey": func(m map[string]types.AttributeValue) { delete(m, "leaseKey") },
		"subsequence as string": func(m map[string]types.AttributeValue) {
			m["checkpointSubSequenceNumber"] = &types.AttributeValueMemberS{Value: "0"}
		},
	}
	for name, mutate := range cases {
		item := base()
		mutate(item)
		_, err := itemToLease(item)
		require.ErrorIs(t, err, ErrMalformedLease, name)
	}
}

func rawGet(t *testing.T, client *dynamodb.Client, table, key string) map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"leaseKey": &types.AttributeValueMemberS{Value: key}},
	})
	require.NoError(t, err)
	require.NotEmpty(t, out.Item, "item %s", key)
	return out.Item
}

func rawPut(t *testing.T, client *dynamodb.Client, table string, item map[string]types.AttributeValue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
	require.NoError(t, err)
}

func TestDynamoDBWritesKCL2Items(t *testing.T) {
	store, client := newTestTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, g := range goldenLeases {
		_, err := store.CreateLease(ctx, g.lease)
		require.NoError(t, err, g.name)
		assert.Equal(t, typed(g.item), typed(rawGet(t, client, store.TableName(), g.lease.Key)), g.name)
	}

	// The conditional updates leave the item in the KCL shape too.
	l, err := store.GetLease(ctx, "shardId-000000000003")
	require.NoError(t, err)
	l, err = store.TakeLease(ctx, l, "host-2")
	require.NoError(t, err)
	l, err = store.Checkpoint(ctx, l, seq(realSeq, 9))
	require.NoError(t, err)
	_, err = store.ReleaseLease(ctx, l)
	require.NoError(t, err)
	want := typed(goldenLeases[1].item)
	delete(want, "leaseOwner")
	delete(want, "pendingCheckpoint")
	delete(want, "pendingCheckpointSubSequenceNumber")
	delete(want, "pendingCheckpointState")
	want["leaseCounter"] = "N:1237"      // take, checkpoint, release
	want["ownerSinceCounter"] = "N:1237" // the release (the take from host-1:4f1c set 1235)
	want["checkpointSubSequenceNumber"] = "N:9"
	want["ownerSwitchesSinceCheckpoint"] = "N:0"
	assert.Equal(t, want, typed(rawGet(t, client, store.TableName(), "shardId-000000000003")))
}

func TestDynamoDBReadsItemsAsKCLWritesThem(t *testing.T) {
	store, client := newTestTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, g := range goldenLeases {
		rawPut(t, client, store.TableName(), g.item)
	}
	// A KCL 3.x item: the 2.x attributes, the 3.x ones this library reads, and one it
	// does not know.
	kcl3 := map[string]types.AttributeValue{
		"leaseKey":                     &types.AttributeValueMemberS{Value: "shardId-000000000009"},
		"leaseOwner":                   &types.AttributeValueMemberS{Value: "java-worker"},
		"leaseCounter":                 &types.AttributeValueMemberN{Value: "77"},
		"ownerSwitchesSinceCheckpoint": &types.AttributeValueMemberN{Value: "1"},
		"checkpoint":                   &types.AttributeValueMemberS{Value: "LATEST"},
		"checkpointSubSequenceNumber":  &types.AttributeValueMemberN{Value: "0"},
		"throughputKBps":               &types.AttributeValueMemberN{Value: "12.5"},
		"checkpointOwner":              &types.AttributeValueMemberS{Value: "java-worker"},
		"entityType":                   &types.AttributeValueMemberS{Value: "LEASE"},
	}
	rawPut(t, client, store.TableName(), kcl3)

	for _, g := range goldenLeases {
		got, err := store.GetLease(ctx, g.lease.Key)
		require.NoError(t, err, g.name)
		assert.Equal(t, g.lease, got, g.name)
	}
	got, err := store.GetLease(ctx, "shardId-000000000009")
	require.NoError(t, err)
	want := Lease{Key: "shardId-000000000009", Owner: "java-worker", Counter: 77, OwnerSwitchesSinceCheckpoint: 1, Checkpoint: PositionLatest,
		CheckpointOwner: "java-worker", ThroughputKBps: 12.5}
	assert.Equal(t, want, got)

	listed, err := store.ListLeases(ctx)
	require.NoError(t, err)
	assert.Len(t, listed, len(goldenLeases)+1)

	// Updates keep the attributes this library does not know.
	renewed, err := store.RenewLease(ctx, got)
	require.NoError(t, err)
	assert.Equal(t, int64(78), renewed.Counter)
	item := typed(rawGet(t, client, store.TableName(), "shardId-000000000009"))
	assert.Equal(t, "N:12.5", item["throughputKBps"])
	assert.Equal(t, "S:java-worker", item["checkpointOwner"])
	assert.Equal(t, "N:78", item["leaseCounter"])
	assert.Equal(t, "S:LEASE", item["entityType"])
}
