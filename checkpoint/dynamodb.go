package checkpoint

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// DynamoDBClient is the part of the DynamoDB API the store uses; *dynamodb.Client
// satisfies it. Implement it to wrap or fake the client.
//
// The store passes a per-call option that sets the SDK retryer to aws.NopRetryer, because
// it retries throttling and server errors itself (see DynamoDBOptions.MaxAttempts). A
// wrapper that ignores the option functions keeps whatever retrying its own client does;
// then the attempts multiply, so configure such a client without retries.
type DynamoDBClient interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
}

var _ DynamoDBClient = (*dynamodb.Client)(nil)

// DynamoDBOptions configures NewDynamoDB. The zero value of every field means its
// documented default.
type DynamoDBOptions struct {
	// CreateTableIfMissing makes EnsureTable create the lease table when it does not exist.
	// Default (nil): true. Set it to aws.Bool(false) when the process may not call
	// dynamodb:CreateTable or the table is managed by infrastructure code; a missing table
	// is then an error matching ErrTableNotFound.
	CreateTableIfMissing *bool
	// BillingMode of a table the store creates. Default types.BillingModePayPerRequest
	// (on-demand, as the KCL). Set types.BillingModeProvisioned with ReadCapacity and
	// WriteCapacity for steady, large consumers where provisioned capacity is cheaper.
	BillingMode types.BillingMode
	// ReadCapacity and WriteCapacity are the provisioned capacity units of a table created
	// with BillingModeProvisioned. Default 10 each (the KCL's). Ignored on demand.
	ReadCapacity, WriteCapacity int64
	// TableActiveTimeout bounds how long EnsureTable waits for a created (or creating)
	// table to become ACTIVE. Default 2 minutes.
	TableActiveTimeout time.Duration
	// ScanPageSize is the Limit of each Scan page of ListLeases. Default 0: no limit
	// (DynamoDB returns up to 1 MB per page, thousands of leases). Set it to spread the
	// read capacity of a large table over more, smaller requests.
	ScanPageSize int32
	// MaxAttempts is how many times the store tries a call that fails with throttling
	// (ProvisionedThroughputExceededException, ThrottlingException, RequestLimitExceeded),
	// a server error (InternalServerError, HTTP 5xx) or a connection error. Default 8.
	// Other errors (validation, access denied, conditional check) are never retried. The
	// SDK's own retryer is disabled per call so the attempts do not multiply.
	MaxAttempts int
	// RetryBaseDelay and RetryMaxDelay shape the backoff between attempts: retry n waits a
	// random duration between half and all of min(RetryMaxDelay, RetryBaseDelay*2^(n-1)). Defaults 50ms and
	// 2s: the 8 default attempts give up after about 5 s at most, less than the 10 s
	// default lease duration. Every retry is also cut short by the call's ctx.
	RetryBaseDelay, RetryMaxDelay time.Duration
	// Logger receives a warning for each retried call. Default slog.Default().
	Logger *slog.Logger
}

// DynamoDB is a Store backed by a DynamoDB table in the KCL 2.x lease table format, so a
// Java KCL 2.x application and this library can read each other's leases and checkpoints.
// Create it with NewDynamoDB. It is safe for concurrent use.
type DynamoDB struct {
	client DynamoDBClient
	table  string
	region string
	opts   DynamoDBOptions

	ensureSem chan struct{} // holds a token while EnsureTable runs
	ensured   atomic.Bool
}

var _ HandoffStore = (*DynamoDB)(nil)

// NewDynamoDB returns a Store using the lease table tableName through client. It does no
// network I/O: the table is checked (and created when missing, see
// DynamoDBOptions.CreateTableIfMissing) by EnsureTable, which the first Store call runs
// when nobody called it before. Call EnsureTable at start-up to fail fast on a missing
// table or permission.
func NewDynamoDB(client DynamoDBClient, tableName string, optFns ...func(*DynamoDBOptions)) (*DynamoDB, error) {
	// Every problem is reported at once (errors.Join).
	var errs []error
	invalid := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("checkpoint: NewDynamoDB: "+format, args...))
	}
	if client == nil {
		invalid("the DynamoDB client is nil")
	}
	if tableName == "" {
		invalid("the table name is empty")
	}
	var o DynamoDBOptions
	for _, fn := range optFns {
		fn(&o)
	}
	if o.CreateTableIfMissing == nil {
		o.CreateTableIfMissing = aws.Bool(true)
	}
	switch o.BillingMode {
	case "":
		o.BillingMode = types.BillingModePayPerRequest
	case types.BillingModePayPerRequest, types.BillingModeProvisioned:
	default:
		invalid("BillingMode %q is neither %s nor %s", o.BillingMode, types.BillingModePayPerRequest, types.BillingModeProvisioned)
	}
	if o.ReadCapacity < 0 || o.WriteCapacity < 0 {
		invalid("ReadCapacity (%d) and WriteCapacity (%d) must not be negative", o.ReadCapacity, o.WriteCapacity)
	}
	if o.ReadCapacity == 0 {
		o.ReadCapacity = 10
	}
	if o.WriteCapacity == 0 {
		o.WriteCapacity = 10
	}
	if o.TableActiveTimeout < 0 || o.RetryBaseDelay < 0 || o.RetryMaxDelay < 0 {
		invalid("TableActiveTimeout, RetryBaseDelay and RetryMaxDelay must not be negative")
	}
	if o.TableActiveTimeout == 0 {
		o.TableActiveTimeout = 2 * time.Minute
	}
	if o.RetryBaseDelay == 0 {
		o.RetryBaseDelay = 50 * time.Millisecond
	}
	if o.RetryMaxDelay == 0 {
		o.RetryMaxDelay = 2 * time.Second
	}
	if o.RetryMaxDelay < o.RetryBaseDelay {
		invalid("RetryMaxDelay %v is below RetryBaseDelay %v", o.RetryMaxDelay, o.RetryBaseDelay)
	}
	if o.ScanPageSize < 0 {
		invalid("ScanPageSize %d is negative", o.ScanPageSize)
	}
	if o.MaxAttempts < 0 {
		invalid("MaxAttempts %d is negative", o.MaxAttempts)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 8
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	d := &DynamoDB{client: client, table: tableName, opts: o, ensureSem: make(chan struct{}, 1)}
	if c, ok := client.(interface{ Options() dynamodb.Options }); ok {
		d.region = c.Options().Region
	}
	return d, nil
}

// TableName returns the lease table's name.
func (d *DynamoDB) TableName() string { return d.table }

// EnsureTable makes sure the lease table exists, has the KCL key schema and is ACTIVE. An
// existing table needs only dynamodb:DescribeTable. A missing one is created (partition
// key leaseKey, type S; BillingMode) when CreateTableIfMissing allows, else the error
// matches ErrTableNotFound. It waits for the table to become ACTIVE, at most
// TableActiveTimeout or until ctx ends. After it succeeds once, later calls return nil at
// once; Store methods call it first, so calling it explicitly only moves the check (and
// its errors) to start-up.
func (d *DynamoDB) EnsureTable(ctx context.Context) error {
	if d.ensured.Load() {
		return nil
	}
	// One check at a time; waiting callers give up with their own ctx.
	select {
	case d.ensureSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("checkpoint: waiting for the lease table %q check: %w", d.table, ctx.Err())
	}
	defer func() { <-d.ensureSem }()
	if d.ensured.Load() {
		return nil
	}
	if err := d.ensureTable(ctx); err != nil {
		return err
	}
	d.ensured.Store(true)
	return nil
}

func (d *DynamoDB) ensureTable(ctx context.Context) error {
	desc, err := d.describe(ctx)
	if errors.Is(err, ErrTableNotFound) {
		if !*d.opts.CreateTableIfMissing {
			return fmt.Errorf("%w: table %q does not exist and CreateTableIfMissing is false; create it with partition key leaseKey (type S, no sort key; on-demand billing recommended), e.g. `aws dynamodb create-table --table-name %s --attribute-definitions AttributeName=leaseKey,AttributeType=S --key-schema AttributeName=leaseKey,KeyType=HASH --billing-mode PAY_PER_REQUEST`, or let the store create it (CreateTableIfMissing true, needs dynamodb:CreateTable)",
				ErrTableNotFound, d.table, d.table)
		}
		if err := d.create(ctx); err != nil {
			return err
		}
		return d.waitActive(ctx)
	}
	if err != nil {
		return err
	}
	if err := checkSchema(d.table, desc); err != nil {
		return err
	}
	switch desc.TableStatus {
	case types.TableStatusActive, types.TableStatusUpdating:
		return nil
	case types.TableStatusCreating:
		return d.waitActive(ctx)
	}
	return fmt.Errorf("checkpoint: lease table %q is %s and cannot be used", d.table, desc.TableStatus)
}

// describe returns the table description, or an error matching ErrTableNotFound.
func (d *DynamoDB) describe(ctx context.Context) (*types.TableDescription, error) {
	out, _, err := call(ctx, d, "dynamodb:DescribeTable", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error) {
		return d.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(d.table)}, o...)
	})
	if err != nil {
		return nil, err
	}
	if out.Table == nil {
		return nil, fmt.Errorf("checkpoint: DescribeTable of %q returned no table", d.table)
	}
	return out.Table, nil
}

func checkSchema(table string, t *types.TableDescription) error {
	ok := len(t.KeySchema) == 1 && aws.ToString(t.KeySchema[0].AttributeName) == attrLeaseKey &&
		t.KeySchema[0].KeyType == types.KeyTypeHash
	if ok {
		for _, a := range t.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == attrLeaseKey && a.AttributeType != types.ScalarAttributeTypeS {
				ok = false
			}
		}
	}
	if !ok {
		return fmt.Errorf("%w: table %q must have exactly one key, the partition (HASH) key leaseKey of type S; it is a table of another application or another format: choose another table name",
			ErrTableSchema, table)
	}
	return nil
}

func (d *DynamoDB) create(ctx context.Context) error {
	in := &dynamodb.CreateTableInput{
		TableName:            aws.String(d.table),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(attrLeaseKey), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(attrLeaseKey), KeyType: types.KeyTypeHash}},
		BillingMode:          d.opts.BillingMode,
	}
	if d.opts.BillingMode == types.BillingModeProvisioned {
		in.ProvisionedThroughput = &types.ProvisionedThroughput{
			ReadCapacityUnits:  aws.Int64(d.opts.ReadCapacity),
			WriteCapacityUnits: aws.Int64(d.opts.WriteCapacity),
		}
	}
	_, _, err := call(ctx, d, "dynamodb:CreateTable", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error) {
		return d.client.CreateTable(ctx, in, o...)
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() == awserr.CodeResourceInUse {
		// Another worker created it first.
		return nil
	}
	if err == nil {
		d.opts.Logger.Info("checkpoint: created the lease table", "table", d.table, "billingMode", d.opts.BillingMode)
	}
	return err
}

// waitActive polls DescribeTable until the table is ACTIVE.
func (d *DynamoDB) waitActive(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, d.opts.TableActiveTimeout)
	defer cancel()
	delay := 50 * time.Millisecond
	for {
		desc, err := d.describe(ctx)
		if err != nil && ctx.Err() != nil {
			break
		}
		if err != nil && !errors.Is(err, ErrTableNotFound) { // just created: may not be visible yet
			return fmt.Errorf("checkpoint: waiting for lease table %q to become ACTIVE: %w", d.table, err)
		}
		if err == nil {
			if err := checkSchema(d.table, desc); err != nil {
				return err
			}
			if desc.TableStatus == types.TableStatusActive || desc.TableStatus == types.TableStatusUpdating {
				return nil
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		if ctx.Err() != nil {
			break
		}
		delay = min(2*delay, time.Second)
	}
	return fmt.Errorf("checkpoint: stopped waiting for lease table %q to become ACTIVE (TableActiveTimeout %v): %w", d.table, d.opts.TableActiveTimeout, ctx.Err())
}

// ListLeases returns every lease (in no particular order), reading the table with
// consistent Scan pages of ScanPageSize items.
func (d *DynamoDB) ListLeases(ctx context.Context) ([]Lease, error) {
	if err := d.EnsureTable(ctx); err != nil {
		return nil, err
	}
	in := &dynamodb.ScanInput{TableName: aws.String(d.table), ConsistentRead: aws.Bool(true)}
	if d.opts.ScanPageSize > 0 {
		in.Limit = aws.Int32(d.opts.ScanPageSize)
	}
	var leases []Lease
	for {
		out, _, err := call(ctx, d, "dynamodb:Scan", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
			return d.client.Scan(ctx, in, o...)
		})
		if err != nil {
			return nil, err
		}
		for _, item := range out.Items {
			l, err := itemToLease(item)
			if err != nil {
				return nil, fmt.Errorf("checkpoint: reading lease table %q: %w", d.table, err)
			}
			leases = append(leases, l)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return leases, nil
		}
		next := *in
		next.ExclusiveStartKey = out.LastEvaluatedKey
		in = &next
	}
}

// GetLease reads one lease consistently; the error matches ErrLeaseNotFound if it is
// absent.
func (d *DynamoDB) GetLease(ctx context.Context, key string) (Lease, error) {
	if err := d.EnsureTable(ctx); err != nil {
		return Lease{}, err
	}
	out, _, err := call(ctx, d, "dynamodb:GetItem", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
		return d.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String(d.table),
			Key:            map[string]types.AttributeValue{attrLeaseKey: attrS(key)},
			ConsistentRead: aws.Bool(true),
		}, o...)
	})
	if err != nil {
		return Lease{}, err
	}
	if len(out.Item) == 0 {
		return Lease{}, notFound(key)
	}
	l, err := itemToLease(out.Item)
	if err != nil {
		return Lease{}, fmt.Errorf("checkpoint: reading lease table %q: %w", d.table, err)
	}
	return l, nil
}

// CreateLease writes l with PutItem if no item has its key (attribute_not_exists(leaseKey)).
// Only the KCL attributes are written.
func (d *DynamoDB) CreateLease(ctx context.Context, l Lease) (Lease, error) {
	if err := validateNewLease(l); err != nil {
		return Lease{}, err
	}
	if err := d.EnsureTable(ctx); err != nil {
		return Lease{}, err
	}
	want := normalizeLease(cloneLease(l))
	_, ambiguous, err := call(ctx, d, "dynamodb:PutItem", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
		return d.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:                aws.String(d.table),
			Item:                     leaseToItem(want),
			ConditionExpression:      aws.String("attribute_not_exists(#key)"),
			ExpressionAttributeNames: map[string]string{"#key": attrLeaseKey},
		}, o...)
	})
	if err == nil {
		return want, nil
	}
	return d.resolveFailure(ctx, "create", l.Key, err, ambiguous, func(s Lease) bool { return leasesEqual(s, want) })
}

// RenewLease increments leaseCounter if leaseCounter and leaseOwner are still l's.
func (d *DynamoDB) RenewLease(ctx context.Context, l Lease) (Lease, error) {
	if l.Owner == "" {
		return Lease{}, &ConflictError{Op: "renew", Key: l.Key}
	}
	e := updateExpr{
		set:   []string{"#counter = :next"},
		cond:  "#counter = :counter AND #owner = :owner",
		names: map[string]string{"#counter": attrLeaseCounter, "#owner": attrLeaseOwner},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":owner": attrS(l.Owner),
		},
	}
	e.names["#throughput"] = attrThroughputKBps
	if l.ThroughputKBps > 0 {
		e.set = append(e.set, "#throughput = :throughput")
		e.values[":throughput"] = attrF(l.ThroughputKBps)
	} else {
		e.remove = append(e.remove, "#throughput")
	}
	return d.update(ctx, "renew", l, e, func(s Lease) bool { return s.Owner == l.Owner })
}

// StartHandoff sets leaseOwner to newOwner and checkpointOwner to l.Owner if leaseOwner and
// leaseCounter are still l's and checkpointOwner is absent (see HandoffStore).
func (d *DynamoDB) StartHandoff(ctx context.Context, l Lease, newOwner string) (Lease, error) {
	if err := validateHandoff(l, newOwner); err != nil {
		return Lease{}, err
	}
	return d.update(ctx, "handoff", l, updateExpr{
		set:   []string{"#owner = :new", "#cpowner = :owner", "#counter = :next"},
		cond:  "#counter = :counter AND #owner = :owner AND attribute_not_exists(#cpowner)",
		names: map[string]string{"#counter": attrLeaseCounter, "#owner": attrLeaseOwner, "#cpowner": attrCheckpointOwner},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":owner": attrS(l.Owner), ":new": attrS(newOwner),
		},
	}, func(s Lease) bool { return s.Owner == newOwner && s.CheckpointOwner == l.Owner })
}

// FinishHandoff removes checkpointOwner and sets ownerSinceCounter to the new
// leaseCounter if leaseCounter and checkpointOwner are still l's (see HandoffStore).
func (d *DynamoDB) FinishHandoff(ctx context.Context, l Lease) (Lease, error) {
	if l.CheckpointOwner == "" {
		return Lease{}, &ConflictError{Op: "finish handoff", Key: l.Key}
	}
	return d.update(ctx, "finish handoff", l, updateExpr{
		set:    []string{"#counter = :next", "#since = :next"},
		remove: []string{"#cpowner"},
		cond:   "#counter = :counter AND #cpowner = :cpowner",
		names:  map[string]string{"#counter": attrLeaseCounter, "#cpowner": attrCheckpointOwner, "#since": attrOwnerSince},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":cpowner": attrS(l.CheckpointOwner),
		},
	}, func(s Lease) bool { return s.CheckpointOwner == "" })
}

// TakeLease sets leaseOwner to owner (removing checkpointOwner: a take ends a handoff) if
// leaseCounter is still l.Counter, adding 1 to
// ownerSwitchesSinceCheckpoint when l.Owner is another (non-empty) owner, as the KCL does,
// and setting ownerSinceCounter to the new leaseCounter when the take moves the lease to
// another worker (see Store.TakeLease).
func (d *DynamoDB) TakeLease(ctx context.Context, l Lease, owner string) (Lease, error) {
	if owner == "" {
		return Lease{}, fmt.Errorf("%w: TakeLease of %s: the new owner is empty", ErrInvalidLease, l.Key)
	}
	e := updateExpr{
		set:    []string{"#owner = :owner", "#counter = :next"},
		remove: []string{"#cpowner"},
		cond:   "#counter = :counter",
		names:  map[string]string{"#counter": attrLeaseCounter, "#owner": attrLeaseOwner, "#cpowner": attrCheckpointOwner},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":owner": attrS(owner),
		},
	}
	if l.Owner != "" && l.Owner != owner {
		e.add = "#switches :one"
		e.names["#switches"] = attrOwnerSwitches
		e.values[":one"] = attrN(1)
	}
	if takeMoves(l, owner) {
		e.set = append(e.set, "#since = :next")
		e.names["#since"] = attrOwnerSince
	}
	return d.update(ctx, "take", l, e, func(s Lease) bool { return s.Owner == owner })
}

// ReleaseLease removes leaseOwner and checkpointOwner and sets ownerSinceCounter to the new
// leaseCounter if leaseOwner and leaseCounter are still l's.
func (d *DynamoDB) ReleaseLease(ctx context.Context, l Lease) (Lease, error) {
	if l.Owner == "" {
		return Lease{}, &ConflictError{Op: "release", Key: l.Key}
	}
	return d.update(ctx, "release", l, updateExpr{
		set:    []string{"#counter = :next", "#since = :next"},
		remove: []string{"#owner", "#cpowner"},
		cond:   "#owner = :owner AND #counter = :counter",
		names:  map[string]string{"#counter": attrLeaseCounter, "#owner": attrLeaseOwner, "#cpowner": attrCheckpointOwner, "#since": attrOwnerSince},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":owner": attrS(l.Owner),
		},
	}, func(s Lease) bool { return s.Owner == "" })
}

// Checkpoint sets checkpoint and checkpointSubSequenceNumber to cp, resets
// ownerSwitchesSinceCheckpoint and removes the pending checkpoint, if leaseCounter and
// leaseOwner are still l's.
func (d *DynamoDB) Checkpoint(ctx context.Context, l Lease, cp ExtendedSequenceNumber) (Lease, error) {
	if _, err := ParseExtendedSequenceNumber(cp.SequenceNumber, cp.SubSequenceNumber); err != nil {
		return Lease{}, fmt.Errorf("checkpoint: Checkpoint of %s: %w", l.Key, err)
	}
	if l.Owner == "" {
		return Lease{}, &ConflictError{Op: "checkpoint", Key: l.Key}
	}
	return d.update(ctx, "checkpoint", l, updateExpr{
		set:    []string{"#cp = :cp", "#cpsub = :cpsub", "#switches = :zero", "#counter = :next"},
		remove: []string{"#pending", "#pendingsub", "#pendingstate"},
		cond:   "#counter = :counter AND #owner = :owner",
		names: map[string]string{
			"#counter": attrLeaseCounter, "#owner": attrLeaseOwner, "#cp": attrCheckpoint,
			"#cpsub": attrCheckpointSub, "#switches": attrOwnerSwitches, "#pending": attrPendingCheckpoint,
			"#pendingsub": attrPendingSub, "#pendingstate": attrPendingState,
		},
		values: map[string]types.AttributeValue{
			":next": attrN(l.Counter + 1), ":counter": attrN(l.Counter), ":owner": attrS(l.Owner),
			":cp": attrS(cp.SequenceNumber), ":cpsub": attrN(cp.SubSequenceNumber), ":zero": attrN(0),
		},
	}, func(s Lease) bool { return s.Owner == l.Owner && s.Checkpoint == cp })
}

// UpdateShardInfo sets childShardIds, startingHashKey and endingHashKey from the non-empty
// fields of l, if the lease exists; leaseCounter and leaseOwner do not change.
func (d *DynamoDB) UpdateShardInfo(ctx context.Context, l Lease) error {
	if err := d.EnsureTable(ctx); err != nil {
		return err
	}
	names := map[string]string{"#key": attrLeaseKey}
	values := map[string]types.AttributeValue{}
	var set []string
	if len(l.ChildShardIDs) > 0 {
		set, names["#children"], values[":children"] = append(set, "#children = :children"), attrChildShardIDs, attrSS(l.ChildShardIDs)
	}
	if l.StartingHashKey != "" {
		set, names["#start"], values[":start"] = append(set, "#start = :start"), attrStartingHashKey, attrS(l.StartingHashKey)
	}
	if l.EndingHashKey != "" {
		set, names["#end"], values[":end"] = append(set, "#end = :end"), attrEndingHashKey, attrS(l.EndingHashKey)
	}
	if len(set) == 0 {
		_, err := d.GetLease(ctx, l.Key)
		return err
	}
	_, _, err := call(ctx, d, "dynamodb:UpdateItem", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
		return d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(d.table),
			Key:                       map[string]types.AttributeValue{attrLeaseKey: attrS(l.Key)},
			UpdateExpression:          aws.String("SET " + strings.Join(set, ", ")),
			ConditionExpression:       aws.String("attribute_exists(#key)"),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}, o...)
	})
	if isConditionalCheckFailed(err) {
		return notFound(l.Key)
	}
	return err
}

// DeleteLease deletes the item; an absent item is not an error.
func (d *DynamoDB) DeleteLease(ctx context.Context, key string) error {
	if err := d.EnsureTable(ctx); err != nil {
		return err
	}
	_, _, err := call(ctx, d, "dynamodb:DeleteItem", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
		return d.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(d.table),
			Key:       map[string]types.AttributeValue{attrLeaseKey: attrS(key)},
		}, o...)
	})
	return err
}

// updateExpr is one conditional UpdateItem.
type updateExpr struct {
	set    []string
	remove []string
	add    string
	cond   string
	names  map[string]string
	values map[string]types.AttributeValue
}

func (e updateExpr) expression() string {
	s := "SET " + strings.Join(e.set, ", ")
	if len(e.remove) > 0 {
		s += " REMOVE " + strings.Join(e.remove, ", ")
	}
	if e.add != "" {
		s += " ADD " + e.add
	}
	return s
}

// update runs a conditional UpdateItem that increments the counter and returns the lease as
// stored after it (ReturnValues ALL_NEW). landed tells, for a lease read back after an
// ambiguous failure, whether this write is the one that bumped the counter.
func (d *DynamoDB) update(ctx context.Context, op string, l Lease, e updateExpr, landed func(Lease) bool) (Lease, error) {
	if err := d.EnsureTable(ctx); err != nil {
		return Lease{}, err
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(d.table),
		Key:                       map[string]types.AttributeValue{attrLeaseKey: attrS(l.Key)},
		UpdateExpression:          aws.String(e.expression()),
		ConditionExpression:       aws.String(e.cond),
		ExpressionAttributeNames:  e.names,
		ExpressionAttributeValues: e.values,
		ReturnValues:              types.ReturnValueAllNew,
	}
	out, ambiguous, err := call(ctx, d, "dynamodb:UpdateItem", func(ctx context.Context, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
		return d.client.UpdateItem(ctx, in, o...)
	})
	if err != nil {
		return d.resolveFailure(ctx, op, l.Key, err, ambiguous, func(s Lease) bool {
			return s.Counter == l.Counter+1 && landed(s)
		})
	}
	stored, err := itemToLease(out.Attributes)
	if err != nil {
		return Lease{}, fmt.Errorf("checkpoint: %s of lease %s: reading the updated item: %w", op, l.Key, err)
	}
	return stored, nil
}

// resolveFailure turns a failed conditional write into a *ConflictError. When an earlier
// attempt failed ambiguously (a connection or server error), that attempt may have applied
// the write and the retry then failed its condition against our own write: the lease is
// read back, and if landed reports that it is this write's result, the write succeeded.
func (d *DynamoDB) resolveFailure(ctx context.Context, op, key string, err error, ambiguous bool, landed func(Lease) bool) (Lease, error) {
	if !isConditionalCheckFailed(err) {
		return Lease{}, err
	}
	if ambiguous {
		if s, gerr := d.GetLease(ctx, key); gerr == nil && landed(s) {
			d.opts.Logger.Info("checkpoint: a retried write had already been applied", "op", op, "lease", key, "table", d.table)
			return s, nil
		}
	}
	return Lease{}, &ConflictError{Op: op, Key: key, Err: err}
}

func isConditionalCheckFailed(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == conditionalCheckFailed
}

// leasesEqual compares two normalized leases.
func leasesEqual(a, b Lease) bool {
	if a.Key != b.Key || a.Owner != b.Owner || a.Counter != b.Counter || a.Checkpoint != b.Checkpoint ||
		a.OwnerSwitchesSinceCheckpoint != b.OwnerSwitchesSinceCheckpoint ||
		a.StartingHashKey != b.StartingHashKey || a.EndingHashKey != b.EndingHashKey ||
		a.CheckpointOwner != b.CheckpointOwner || a.ThroughputKBps != b.ThroughputKBps || a.OwnerSinceCounter != b.OwnerSinceCounter ||
		(a.PendingCheckpoint == nil) != (b.PendingCheckpoint == nil) ||
		string(a.PendingCheckpointState) != string(b.PendingCheckpointState) ||
		!slices.Equal(a.ParentShardIDs, b.ParentShardIDs) || !slices.Equal(a.ChildShardIDs, b.ChildShardIDs) {
		return false
	}
	return a.PendingCheckpoint == nil || *a.PendingCheckpoint == *b.PendingCheckpoint
}
