package checkpoint

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/stretchr/testify/require"
)

// newTestTable returns a DynamoDB store on a fresh table (created through EnsureTable and
// deleted when the test ends), with the raw client for direct reads and writes.
func newTestTable(t *testing.T, optFns ...func(*DynamoDBOptions)) (*DynamoDB, *dynamodb.Client) {
	t.Helper()
	env := testbed.Get(t)
	client := env.DynamoDB()
	table := testbed.UniqueName("leases")
	quiet := func(o *DynamoDBOptions) { o.Logger = slog.New(slog.DiscardHandler) }
	store, err := NewDynamoDB(client, table, append([]func(*DynamoDBOptions){quiet}, optFns...)...)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, store.EnsureTable(ctx))
	t.Cleanup(func() { deleteTable(client, table) })
	return store, client
}

func deleteTable(client *dynamodb.Client, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
}
