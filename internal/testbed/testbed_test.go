package testbed

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { Main(m) }

func TestKinesisRoundTrip(t *testing.T) {
	env := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := env.CreateStream(t, 2)
	client := env.Kinesis()

	put, err := client.PutRecords(ctx, &kinesis.PutRecordsInput{
		StreamName: aws.String(stream),
		Records: []types.PutRecordsRequestEntry{
			{PartitionKey: aws.String("alpha"), Data: []byte("one")},
			{PartitionKey: aws.String("alpha"), Data: []byte("two")},
		},
	})
	require.NoError(t, err)
	require.Zero(t, aws.ToInt32(put.FailedRecordCount))
	shardID := aws.ToString(put.Records[0].ShardId)
	require.Equal(t, shardID, aws.ToString(put.Records[1].ShardId), "one partition key maps to one shard")

	it, err := client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName: aws.String(stream), ShardId: aws.String(shardID), ShardIteratorType: types.ShardIteratorTypeTrimHorizon,
	})
	require.NoError(t, err)
	got, err := client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	require.NoError(t, err)
	require.Len(t, got.Records, 2)
	require.Equal(t, "one", string(got.Records[0].Data))
	require.Equal(t, "two", string(got.Records[1].Data))
	require.Equal(t, aws.ToString(put.Records[0].SequenceNumber), aws.ToString(got.Records[0].SequenceNumber))
}

func TestDynamoDBConditionalWriteConflicts(t *testing.T) {
	env := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := env.DynamoDB()
	table := UniqueName("test")
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest,
	})
	require.NoError(t, err)
	// dynalite reports CREATING until its next tick even with --createTableMs 0; the SDK's
	// default MinDelay (20 s) equals the max wait, so the waiter would give up after one look.
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	})
	require.NoError(t, waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second))

	put := func() error {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(table),
			Item:                map[string]ddbtypes.AttributeValue{"leaseKey": &ddbtypes.AttributeValueMemberS{Value: "shardId-000000000000"}},
			ConditionExpression: aws.String("attribute_not_exists(leaseKey)"),
		})
		return err
	}
	require.NoError(t, put())
	var conflict *ddbtypes.ConditionalCheckFailedException
	require.ErrorAs(t, put(), &conflict)
}

func TestCloseStopsEveryProcess(t *testing.T) {
	Get(t) // skip or fail like the other tests when the emulators cannot run
	env, err := Start(context.Background(), Options{})
	require.NoError(t, err)
	pids := env.Pids()
	require.Len(t, pids, 2)
	for _, pid := range pids {
		require.NoError(t, syscall.Kill(pid, 0), "process %d should be running", pid)
	}
	require.NoError(t, env.Close())
	require.NoError(t, env.Close(), "Close is idempotent")
	for _, pid := range pids {
		// The process was reaped by its Wait goroutine, so the pid no longer exists.
		require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "process %d should be gone", pid)
		require.ErrorIs(t, syscall.Kill(-pid, 0), syscall.ESRCH, "process group %d should be gone", pid)
	}
}

func TestEmulatorThatCannotStartReportsItsOutput(t *testing.T) {
	Get(t)
	dir, err := npmDir("")
	require.NoError(t, err)
	preload, err := writePreload()
	require.NoError(t, err)
	// Occupy a port so dynalite fails to bind it and exits.
	ports, err := freePorts(1)
	require.NoError(t, err)
	first, err := startDynalite(dir, preload, ports[0])
	require.NoError(t, err)
	defer first.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, waitReady(ctx, first, dynamoReady))

	second, err := startDynalite(dir, preload, ports[0])
	require.NoError(t, err)
	defer second.stop()
	// Readiness must not be fooled by the first server answering on the same port: the
	// second exits and the wait reports it, with its output, instead of hanging.
	select {
	case <-second.exited:
	case <-ctx.Done():
		t.Fatal("second dynalite on a used port did not exit")
	}
	err = waitReady(ctx, second, func(context.Context, string) error { return errors.New("not ready") })
	require.ErrorContains(t, err, "exited before answering")
	require.ErrorContains(t, err, "EADDRINUSE")
}

func TestStartHonoursItsDeadline(t *testing.T) {
	Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err := Start(ctx, Options{})
	require.Error(t, err)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestUniqueName(t *testing.T) {
	a, b := UniqueName("s"), UniqueName("s")
	require.NotEqual(t, a, b)
	require.Regexp(t, `^s-[0-9a-f]{12}$`, a)
}

// A client that hangs up in the middle of a request (a cancelled context, a killed
// worker) must not crash an emulator for the rest of the test binary.
func TestEmulatorsSurviveAbortedRequests(t *testing.T) {
	env := Get(t)
	for _, endpoint := range []string{env.DynamoDBEndpoint, env.KinesisEndpoint} {
		for i := 0; i < 3; i++ {
			conn, err := net.Dial("tcp", strings.TrimPrefix(endpoint, "http://"))
			require.NoError(t, err)
			_, err = fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: 1000\r\n\r\n{\"Li")
			require.NoError(t, err)
			// Let the server start reading the body, then reset the connection.
			time.Sleep(50 * time.Millisecond)
			require.NoError(t, conn.(*net.TCPConn).SetLinger(0))
			require.NoError(t, conn.Close())
		}
	}
	// A liveness check, not a speed check: a loaded machine may answer slowly.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := env.DynamoDB().ListTables(ctx, &dynamodb.ListTablesInput{})
	require.NoError(t, err, "dynalite still answers")
	_, err = env.Kinesis().ListStreams(ctx, &kinesis.ListStreamsInput{})
	require.NoError(t, err, "kinesis-mock still answers")
}
