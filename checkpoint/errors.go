package checkpoint

import (
	"errors"
	"fmt"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

var (
	// ErrAccessDenied matches (errors.Is) every *AccessDeniedError: DynamoDB refused a call
	// because the process's IAM identity lacks a permission. It is never retried.
	ErrAccessDenied = errors.New("checkpoint: access denied by DynamoDB")
	// ErrTableNotFound means the lease table does not exist and the store was told not to
	// create it (DynamoDBOptions.CreateTableIfMissing false), or it was deleted while in
	// use. Create it with the schema in the package documentation, or enable creation.
	ErrTableNotFound = errors.New("checkpoint: lease table not found")
	// ErrTableSchema means the lease table exists but its key is not the KCL one (a hash
	// key named leaseKey of type S and no sort key), so it cannot hold leases. Use another
	// table name or recreate the table.
	ErrTableSchema = errors.New("checkpoint: lease table has the wrong key schema")
	// ErrMalformedLease means an item read from the lease table cannot be decoded (for
	// example leaseCounter is not a number). Something other than a KCL-compatible
	// application wrote it.
	ErrMalformedLease = errors.New("checkpoint: malformed lease item")
)

// AccessDeniedError reports a DynamoDB AccessDeniedException: the IAM identity the client
// runs as may not perform Action on the lease table. It matches ErrAccessDenied with
// errors.Is, and errors.As finds it; Unwrap returns the AWS error.
type AccessDeniedError struct {
	// Action is the IAM action that was denied, e.g. "dynamodb:PutItem".
	Action string
	// Resource is the lease table name.
	Resource string
	// Region is the client's region, when the store could learn it ("" otherwise).
	Region string
	// Err is the AWS error (a smithy.APIError with code AccessDeniedException).
	Err error
}

// TableARN returns the ARN to grant Action on; the account id is a placeholder (and the
// region too when unknown) because the store does not know them.
func (e *AccessDeniedError) TableARN() string {
	region := e.Region
	if region == "" {
		region = "<region>"
	}
	return fmt.Sprintf("arn:aws:dynamodb:%s:<account-id>:table/%s", region, e.Resource)
}

func (e *AccessDeniedError) Error() string {
	needs := "The consumer needs dynamodb:DescribeTable, GetItem, PutItem, UpdateItem, DeleteItem and Scan on the table (and CreateTable to create it)"
	if e.Action == "dynamodb:CreateTable" {
		needs = "Or create the table yourself (partition key leaseKey of type String, no sort key, on-demand billing) so that only dynamodb:DescribeTable is needed to use it. " + needs
	}
	return awserr.AccessDenied{Package: "checkpoint", Action: e.Action, Resource: fmt.Sprintf("the lease table %q", e.Resource),
		GrantOn: e.TableARN(), Needs: needs, Err: e.Err}.Message()
}

// Is reports ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Unwrap returns the AWS error.
func (e *AccessDeniedError) Unwrap() error { return e.Err }
