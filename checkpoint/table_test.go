package checkpoint

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
)

func describeRaw(t *testing.T, client *dynamodb.Client, table string) *types.TableDescription {
	t.Helper()
	out, err := client.DescribeTable(testCtx(t), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	require.NoError(t, err)
	return out.Table
}

func TestEnsureTableCreatesAMissingTableOnDemand(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	require.NoError(t, s.EnsureTable(ctx))
	desc := describeRaw(t, s.raw, s.table)
	assert.Equal(t, types.TableStatusActive, desc.TableStatus)
	require.NotNil(t, desc.BillingModeSummary)
	assert.Equal(t, types.BillingModePayPerRequest, desc.BillingModeSummary.BillingMode)
	assert.Equal(t, []types.KeySchemaElement{{AttributeName: aws.String("leaseKey"), KeyType: types.KeyTypeHash}}, desc.KeySchema)
	assert.Equal(t, []types.AttributeDefinition{{AttributeName: aws.String("leaseKey"), AttributeType: types.ScalarAttributeTypeS}}, desc.AttributeDefinitions)
	assert.Equal(t, 1, s.inj.Calls("CreateTable"))

	require.NoError(t, s.EnsureTable(ctx), "a second call is a no-op")
	assert.Equal(t, 1, s.inj.Calls("CreateTable"))
}

func TestEnsureTableCreatesProvisionedTable(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false, func(o *DynamoDBOptions) {
		o.BillingMode = types.BillingModeProvisioned
		o.ReadCapacity = 7
	})
	require.NoError(t, s.EnsureTable(ctx))
	desc := describeRaw(t, s.raw, s.table)
	require.NotNil(t, desc.ProvisionedThroughput)
	assert.Equal(t, int64(7), aws.ToInt64(desc.ProvisionedThroughput.ReadCapacityUnits))
	assert.Equal(t, int64(10), aws.ToInt64(desc.ProvisionedThroughput.WriteCapacityUnits), "default write capacity")
}

func createRawTable(t *testing.T, client *dynamodb.Client, table string, keys ...string) {
	t.Helper()
	in := &dynamodb.CreateTableInput{TableName: aws.String(table), BillingMode: types.BillingModePayPerRequest}
	for i, k := range keys {
		kt := types.KeyTypeHash
		if i > 0 {
			kt = types.KeyTypeRange
		}
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{AttributeName: aws.String(k), AttributeType: types.ScalarAttributeTypeS})
		in.KeySchema = append(in.KeySchema, types.KeySchemaElement{AttributeName: aws.String(k), KeyType: kt})
	}
	_, err := client.CreateTable(testCtx(t), in)
	require.NoError(t, err)
	require.NoError(t, dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, 200*time.Millisecond
	}).Wait(testCtx(t), &dynamodb.DescribeTableInput{TableName: aws.String(table)}, 20*time.Second))
}

// Using an existing table needs only DescribeTable (and the item calls), not CreateTable.
func TestExistingTableIsUsedWithoutCreateTablePermission(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	createRawTable(t, s.raw, s.table, "leaseKey")
	rawPut(t, s.raw, s.table, goldenLeases[0].item)
	s.on("CreateTable", faults.AccessDenied(), 0)

	require.NoError(t, s.EnsureTable(ctx))
	assert.Equal(t, 0, s.inj.Calls("CreateTable"))
	assert.Equal(t, 1, s.inj.Calls("DescribeTable"))
	got, err := s.GetLease(ctx, goldenLeases[0].lease.Key)
	require.NoError(t, err)
	assert.Equal(t, goldenLeases[0].lease, got)
}

func TestMissingTableWithoutCreatePermissionExplainsBothFixes(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	s.on("CreateTable", faults.AccessDenied(), 0)
	err := s.EnsureTable(ctx)
	var denied *AccessDeniedError
	require.ErrorAs(t, err, &denied)
	assert.Equal(t, "dynamodb:CreateTable", denied.Action)
	assert.Contains(t, err.Error(), "grant dynamodb:CreateTable on arn:aws:dynamodb:us-east-1:<account-id>:table/"+s.table)
	assert.Contains(t, err.Error(), "create the table yourself (partition key leaseKey of type String")
	assert.Equal(t, 1, s.inj.Calls("CreateTable"))
}

func TestMissingTableWithCreationDisabledIsAClearError(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false, func(o *DynamoDBOptions) { o.CreateTableIfMissing = aws.Bool(false) })
	err := s.EnsureTable(ctx)
	require.ErrorIs(t, err, ErrTableNotFound)
	for _, want := range []string{s.table, "CreateTableIfMissing", "leaseKey", "AttributeType=S", "KeyType=HASH", "PAY_PER_REQUEST"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.Equal(t, 0, s.inj.Calls("CreateTable"))

	// Store calls report the same error (and do not create the table either).
	_, err = s.CreateLease(ctx, Lease{Key: "k", Checkpoint: PositionLatest})
	require.ErrorIs(t, err, ErrTableNotFound)
	assert.Equal(t, 0, s.inj.Calls("CreateTable"))
	assert.Equal(t, 0, s.inj.Calls("PutItem"))

	// Once somebody creates it, the store works.
	createRawTable(t, s.raw, s.table, "leaseKey")
	_, err = s.CreateLease(ctx, Lease{Key: "k", Checkpoint: PositionLatest})
	require.NoError(t, err)
}

func TestTableWithAnotherKeySchemaIsRejected(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	createRawTable(t, s.raw, s.table, "leaseKey", "other")
	err := s.EnsureTable(ctx)
	require.ErrorIs(t, err, ErrTableSchema)
	assert.Contains(t, err.Error(), s.table)

	s2 := newFaultyStore(t, false)
	createRawTable(t, s2.raw, s2.table, "id")
	require.ErrorIs(t, s2.EnsureTable(ctx), ErrTableSchema)
}

func TestFirstStoreCallCreatesTheTableOnce(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.ListLeases(ctx)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, 1, s.inj.Calls("CreateTable"))
	assert.Equal(t, 6, s.inj.Calls("Scan"))
}

func TestEnsureTableRetriesAfterAFailure(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, false)
	s.on("DescribeTable", faults.AccessDenied(), 1)
	var denied *AccessDeniedError
	require.ErrorAs(t, s.EnsureTable(ctx), &denied)
	assert.Equal(t, "dynamodb:DescribeTable", denied.Action)
	require.NoError(t, s.EnsureTable(ctx), "a failed check is not remembered")
}

// creatingClient reports the table as CREATING for the first `creating` DescribeTable
// calls: dynalite creates tables instantly, AWS takes seconds.
type creatingClient struct {
	*dynamodb.Client
	creating  int32
	describes atomic.Int32
	described chan struct{} // optional: signalled (without blocking) on each describe
}

func (c *creatingClient) DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
	out, err := c.Client.DescribeTable(ctx, in, optFns...)
	if c.described != nil {
		select {
		case c.described <- struct{}{}:
		default:
		}
	}
	if err == nil && c.describes.Add(1) <= c.creating {
		t := *out.Table
		t.TableStatus = types.TableStatusCreating
		out.Table = &t
	}
	return out, err
}

func TestEnsureTableWaitsUntilActive(t *testing.T) {
	ctx := testCtx(t)
	env := testbed.Get(t)
	raw := env.DynamoDB()
	table := testbed.UniqueName("leases")
	t.Cleanup(func() { deleteTable(raw, table) })
	c := &creatingClient{Client: raw, creating: 3}
	s, err := NewDynamoDB(c, table, func(o *DynamoDBOptions) { o.Logger = slog.New(slog.DiscardHandler) })
	require.NoError(t, err)
	require.NoError(t, s.EnsureTable(ctx))
	assert.Equal(t, int32(4), c.describes.Load(), "CREATING three times, then ACTIVE")
}

func TestEnsureTableGivesUpAfterTableActiveTimeout(t *testing.T) {
	ctx := testCtx(t)
	env := testbed.Get(t)
	raw := env.DynamoDB()
	table := testbed.UniqueName("leases")
	createRawTable(t, raw, table, "leaseKey")
	t.Cleanup(func() { deleteTable(raw, table) })
	c := &creatingClient{Client: raw, creating: 1 << 30}
	s, err := NewDynamoDB(c, table, func(o *DynamoDBOptions) { o.TableActiveTimeout = 200 * time.Millisecond })
	require.NoError(t, err)
	err = s.EnsureTable(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "stopped waiting for lease table \""+table+"\" to become ACTIVE (TableActiveTimeout 200ms)")
}

func TestEnsureTableWaitersHonourTheirContext(t *testing.T) {
	env := testbed.Get(t)
	raw := env.DynamoDB()
	table := testbed.UniqueName("leases")
	createRawTable(t, raw, table, "leaseKey")
	t.Cleanup(func() { deleteTable(raw, table) })
	c := &creatingClient{Client: raw, creating: 1 << 30, described: make(chan struct{}, 1)}
	s, err := NewDynamoDB(c, table, func(o *DynamoDBOptions) { o.TableActiveTimeout = time.Minute })
	require.NoError(t, err)

	ctx1, cancel1 := context.WithCancel(context.Background())
	defer cancel1()
	first := make(chan error, 1)
	go func() { first <- s.EnsureTable(ctx1) }()
	<-c.described // the first caller is waiting for ACTIVE

	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	require.ErrorIs(t, s.EnsureTable(ctx2), context.Canceled, "a second caller does not wait past its ctx")
	_, err = s.ListLeases(ctx2)
	require.ErrorIs(t, err, context.Canceled)

	cancel1()
	require.ErrorIs(t, <-first, context.Canceled)
}

func TestNewDynamoDBValidatesOptions(t *testing.T) {
	client := dynamodb.New(dynamodb.Options{Region: "eu-west-1"})
	bad := map[string]func(*DynamoDBOptions){
		"billing mode":      func(o *DynamoDBOptions) { o.BillingMode = "FREE" },
		"negative capacity": func(o *DynamoDBOptions) { o.ReadCapacity = -1 },
		"negative timeout":  func(o *DynamoDBOptions) { o.TableActiveTimeout = -time.Second },
		"negative delay":    func(o *DynamoDBOptions) { o.RetryBaseDelay = -1 },
		"max below base":    func(o *DynamoDBOptions) { o.RetryBaseDelay, o.RetryMaxDelay = time.Second, time.Millisecond },
		"negative page":     func(o *DynamoDBOptions) { o.ScanPageSize = -2 },
		"negative attempts": func(o *DynamoDBOptions) { o.MaxAttempts = -1 },
	}
	for name, fn := range bad {
		_, err := NewDynamoDB(client, "t", fn)
		require.Error(t, err, name)
	}
	_, err := NewDynamoDB(nil, "t")
	require.Error(t, err)
	_, err = NewDynamoDB(client, "")
	require.Error(t, err)

	d, err := NewDynamoDB(client, "t")
	require.NoError(t, err)
	assert.Equal(t, "eu-west-1", d.region)
	assert.Equal(t, DynamoDBOptions{
		CreateTableIfMissing: aws.Bool(true),
		BillingMode:          types.BillingModePayPerRequest,
		ReadCapacity:         10, WriteCapacity: 10,
		TableActiveTimeout: 2 * time.Minute,
		MaxAttempts:        8,
		RetryBaseDelay:     50 * time.Millisecond,
		RetryMaxDelay:      2 * time.Second,
		Logger:             slog.Default(),
	}, d.opts)
}

func TestNewDynamoDBReportsEveryProblemAtOnce(t *testing.T) {
	_, err := NewDynamoDB(nil, "", func(o *DynamoDBOptions) {
		o.BillingMode = "FREE"
		o.ScanPageSize = -2
		o.MaxAttempts = -1
	})
	require.Error(t, err)
	for _, want := range []string{"client is nil", "table name is empty", `BillingMode "FREE"`, "ScanPageSize -2", "MaxAttempts -1"} {
		assert.Contains(t, err.Error(), want)
	}
}
