package checkpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go"
	"github.com/kinesis-go/kinesis/internal/faults"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// faultyStore is a store whose client goes through a fault injector, plus a clean client
// for setup and checks.
type faultyStore struct {
	*DynamoDB
	inj   *faults.Injector
	raw   *dynamodb.Client
	table string
}

// newFaultyStore returns a store on a fresh table (not yet created unless ensure) whose
// calls pass through a fault injector. Retries wait at most a few milliseconds.
func newFaultyStore(t *testing.T, ensure bool, optFns ...func(*DynamoDBOptions)) *faultyStore {
	t.Helper()
	env := testbed.Get(t)
	inj := faults.New(nil)
	t.Cleanup(inj.CloseIdleConnections)
	// The client keeps the SDK's standard retryer: the store must switch it off per call.
	client := env.DynamoDB(func(o *dynamodb.Options) { o.HTTPClient = inj.HTTPClient() })
	table := testbed.UniqueName("leases")
	base := func(o *DynamoDBOptions) {
		o.Logger = slog.New(slog.DiscardHandler)
		o.RetryBaseDelay = time.Millisecond
		o.RetryMaxDelay = 5 * time.Millisecond
	}
	store, err := NewDynamoDB(client, table, append([]func(*DynamoDBOptions){base}, optFns...)...)
	require.NoError(t, err)
	raw := env.DynamoDB()
	t.Cleanup(func() { deleteTable(raw, table) })
	if ensure {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, store.EnsureTable(ctx))
	}
	return &faultyStore{DynamoDB: store, inj: inj, raw: raw, table: table}
}

func (f *faultyStore) on(op string, fault faults.Fault, times int) {
	f.inj.Add(faults.Rule{Service: faults.ServiceDynamoDB, Op: op, Table: f.table, Fault: fault, Times: times})
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRetryableFailuresAreRetriedUntilTheWriteSucceeds(t *testing.T) {
	for _, fault := range []faults.Fault{
		faults.ProvisionedThroughputExceeded(),
		faults.Throttling(),
		faults.Error(400, "RequestLimitExceeded", "Throughput exceeds the current throughput limit for your account."),
		faults.InternalFailure(),
		faults.ServiceUnavailable(),
		faults.ConnectionReset(),
	} {
		t.Run(fault.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s := newFaultyStore(t, true)
			l, err := s.CreateLease(ctx, Lease{Key: "k", Owner: "a", Checkpoint: PositionTrimHorizon})
			require.NoError(t, err)

			s.on("UpdateItem", fault, 3)
			before := s.inj.Calls("UpdateItem")
			r, err := s.RenewLease(ctx, l)
			require.NoError(t, err)
			assert.Equal(t, 4, s.inj.Calls("UpdateItem")-before, "3 failed attempts, then one that succeeds; no SDK retries on top")
			assert.Equal(t, l.Counter+1, r.Counter, "the renew applied exactly once")
			got, err := s.GetLease(ctx, "k")
			require.NoError(t, err)
			assert.Equal(t, r, got)
		})
	}
}

func TestRetriesStopAfterMaxAttempts(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true, func(o *DynamoDBOptions) { o.MaxAttempts = 3 })
	s.on("PutItem", faults.ProvisionedThroughputExceeded(), 0)
	_, err := s.CreateLease(ctx, Lease{Key: "k", Checkpoint: PositionLatest})
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ProvisionedThroughputExceededException", apiErr.ErrorCode())
	assert.Contains(t, err.Error(), "failed 3 times")
	assert.Equal(t, 3, s.inj.Calls("PutItem"))
}

func TestDefaultMaxAttemptsIsEight(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	s.on("GetItem", faults.Throttling(), 0)
	_, err := s.GetLease(ctx, "k")
	require.Error(t, err)
	assert.Equal(t, 8, s.inj.Calls("GetItem"))
}

func TestContextEndsTheRetries(t *testing.T) {
	s := newFaultyStore(t, true, func(o *DynamoDBOptions) {
		o.RetryBaseDelay, o.RetryMaxDelay = time.Hour, time.Hour // only ctx can end the wait
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.inj.Add(faults.Rule{Op: "Scan", Table: s.table, Fault: faults.Throttling(), Hook: func(faults.Hit) { cancel() }})
	_, err := s.ListLeases(ctx)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, s.inj.Calls("Scan"))
}

func TestAccessDeniedNamesTheActionAndTableAndIsNotRetried(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	s.on("PutItem", faults.AccessDenied(), 0)
	_, err := s.CreateLease(ctx, Lease{Key: "k", Checkpoint: PositionLatest})
	require.ErrorIs(t, err, ErrAccessDenied)
	var denied *AccessDeniedError
	require.ErrorAs(t, err, &denied)
	assert.Equal(t, "dynamodb:PutItem", denied.Action)
	assert.Equal(t, s.table, denied.Resource)
	assert.Equal(t, testbed.Region, denied.Region)
	msg := err.Error()
	assert.Contains(t, msg, "may not call dynamodb:PutItem")
	assert.Contains(t, msg, fmt.Sprintf("grant dynamodb:PutItem on arn:aws:dynamodb:%s:<account-id>:table/%s", testbed.Region, s.table))
	assert.Contains(t, msg, "is not authorized to perform: dynamodb:PutItem", "the AWS message is kept")
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "AccessDeniedException", apiErr.ErrorCode())
	assert.Equal(t, 1, s.inj.Calls("PutItem"))
}

func TestAccessDeniedOnEveryOperationNamesItsAction(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	l, err := s.CreateLease(ctx, Lease{Key: "k", Owner: "a", Checkpoint: PositionTrimHorizon})
	require.NoError(t, err)
	for _, op := range []string{"GetItem", "UpdateItem", "DeleteItem", "Scan"} {
		s.on(op, faults.AccessDenied(), 0)
	}
	calls := map[string]func() error{
		"dynamodb:GetItem":    func() error { _, err := s.GetLease(ctx, "k"); return err },
		"dynamodb:UpdateItem": func() error { _, err := s.RenewLease(ctx, l); return err },
		"dynamodb:DeleteItem": func() error { return s.DeleteLease(ctx, "k") },
		"dynamodb:Scan":       func() error { _, err := s.ListLeases(ctx); return err },
	}
	for action, do := range calls {
		var denied *AccessDeniedError
		require.ErrorAs(t, do(), &denied, action)
		assert.Equal(t, action, denied.Action)
	}
}

func TestValidationErrorIsNotRetried(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	l, err := s.CreateLease(ctx, Lease{Key: "k", Owner: "a", Checkpoint: PositionTrimHorizon})
	require.NoError(t, err)
	s.on("UpdateItem", faults.Validation("One or more parameter values were invalid"), 0)
	_, err = s.Checkpoint(ctx, l, seq("5", 0))
	var apiErr smithy.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "ValidationException", apiErr.ErrorCode())
	assert.NotErrorIs(t, err, ErrLeaseConflict)
	assert.Equal(t, 1, s.inj.Calls("UpdateItem"))
}

func TestConflictIsNotRetried(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	l, err := s.CreateLease(ctx, Lease{Key: "k", Owner: "a", Checkpoint: PositionTrimHorizon})
	require.NoError(t, err)
	stale := l
	stale.Counter = 99
	before := s.inj.Calls("UpdateItem")
	_, err = s.RenewLease(ctx, stale)
	require.ErrorIs(t, err, ErrLeaseConflict)
	assert.Equal(t, 1, s.inj.Calls("UpdateItem")-before)
	assert.Equal(t, 0, s.inj.Calls("GetItem"), "a conflict without an ambiguous failure needs no read-back")
}

// A write that DynamoDB applied but whose response was lost is retried; the retry then
// fails its condition against that same write. The store recognises its own write and
// reports success instead of a false lease loss.
func TestAmbiguousFailureOfAnAppliedWriteIsNotAConflict(t *testing.T) {
	for _, fault := range []faults.Fault{faults.After(faults.ConnectionReset()), faults.After(faults.InternalFailure())} {
		t.Run(fault.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s := newFaultyStore(t, true)

			s.on("PutItem", fault, 1)
			created, err := s.CreateLease(ctx, Lease{Key: "k", Checkpoint: PositionTrimHorizon})
			require.NoError(t, err)
			assert.Equal(t, 2, s.inj.Calls("PutItem"))

			steps := []func(Lease) (Lease, error){
				func(l Lease) (Lease, error) { return s.TakeLease(ctx, l, "a") },
				func(l Lease) (Lease, error) { return s.RenewLease(ctx, l) },
				func(l Lease) (Lease, error) { return s.Checkpoint(ctx, l, seq(realSeq, 1)) },
				func(l Lease) (Lease, error) { return s.ReleaseLease(ctx, l) },
			}
			l := created
			for i, step := range steps {
				s.on("UpdateItem", fault, 1)
				next, err := step(l)
				require.NoError(t, err, "step %d", i)
				assert.Equal(t, l.Counter+1, next.Counter, "step %d applied exactly once", i)
				got, err := s.GetLease(ctx, "k")
				require.NoError(t, err)
				assert.Equal(t, next, got)
				l = next
			}
			assert.Equal(t, 2*len(steps), s.inj.Calls("UpdateItem"))
		})
	}
}

// After an ambiguous failure, a conflict caused by someone else is still a conflict.
func TestAmbiguousFailureThenRealConflictIsAConflict(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	l, err := s.CreateLease(ctx, Lease{Key: "k", Owner: "a", Checkpoint: PositionTrimHorizon})
	require.NoError(t, err)
	other, err := NewDynamoDB(s.raw, s.table)
	require.NoError(t, err)
	// The first renew attempt is lost on the way (not applied); before the retry, worker b
	// takes the lease.
	var once sync.Once
	s.inj.Add(faults.Rule{Op: "UpdateItem", Table: s.table, Times: 1, Fault: faults.ConnectionReset(), Hook: func(faults.Hit) {
		once.Do(func() {
			_, err := other.TakeLease(ctx, l, "b")
			assert.NoError(t, err)
		})
	}})
	_, err = s.RenewLease(ctx, l)
	require.ErrorIs(t, err, ErrLeaseConflict)
	got, err := s.GetLease(ctx, "k")
	require.NoError(t, err)
	assert.Equal(t, "b", got.Owner)
}

func TestListLeasesReadsConsistentPagesOfScanPageSize(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true, func(o *DynamoDBOptions) { o.ScanPageSize = 2 })
	for i := range 7 {
		_, err := s.CreateLease(ctx, Lease{Key: fmt.Sprintf("shardId-%012d", i), Checkpoint: PositionLatest})
		require.NoError(t, err)
	}
	var (
		mu    sync.Mutex
		scans []map[string]any
	)
	s.inj.Add(faults.Rule{Op: "Scan", Table: s.table, Hook: func(h faults.Hit) {
		var body map[string]any
		assert.NoError(t, json.Unmarshal(h.Call.Body, &body))
		mu.Lock()
		scans = append(scans, body)
		mu.Unlock()
	}})
	// One page fails with throttling: only that page is retried.
	s.inj.Add(faults.Rule{Op: "Scan", Table: s.table, Times: 1, Match: func(c *faults.Call) bool {
		return strings.Contains(string(c.Body), "ExclusiveStartKey")
	}, Fault: faults.ProvisionedThroughputExceeded()})

	leases, err := s.ListLeases(ctx)
	require.NoError(t, err)
	assert.Len(t, leases, 7)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, scans, 5, "pages of 2, 2, 2, 1 items plus one retried page")
	for _, body := range scans {
		assert.Equal(t, true, body["ConsistentRead"])
		assert.Equal(t, float64(2), body["Limit"])
	}
	assert.NotContains(t, scans[0], "ExclusiveStartKey")
}

func TestGetLeaseReadsConsistently(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	var consistent []bool
	s.inj.Add(faults.Rule{Op: "GetItem", Table: s.table, Hook: func(h faults.Hit) {
		var body struct{ ConsistentRead bool }
		assert.NoError(t, json.Unmarshal(h.Call.Body, &body))
		consistent = append(consistent, body.ConsistentRead)
	}})
	_, err := s.GetLease(ctx, "k")
	require.ErrorIs(t, err, ErrLeaseNotFound)
	assert.Equal(t, []bool{true}, consistent)
}

// The SDK client keeps its default retryer (3 attempts); the store must be the only layer
// that retries.
func TestSDKRetryerIsDisabledPerCall(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true, func(o *DynamoDBOptions) { o.MaxAttempts = 1 })
	s.on("DeleteItem", faults.InternalFailure(), 0)
	err := s.DeleteLease(ctx, "k")
	require.Error(t, err)
	assert.Equal(t, 1, s.inj.Calls("DeleteItem"))
	assert.False(t, errors.Is(err, ErrLeaseConflict))
}

func TestNotFoundTableDuringUseMatchesErrTableNotFound(t *testing.T) {
	ctx := testCtx(t)
	s := newFaultyStore(t, true)
	s.on("GetItem", faults.ResourceNotFound(), 0)
	_, err := s.GetLease(ctx, "k")
	require.ErrorIs(t, err, ErrTableNotFound)
	assert.Equal(t, 1, s.inj.Calls("GetItem"))
}
