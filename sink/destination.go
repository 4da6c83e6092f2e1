package sink

import (
	"context"
	"errors"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// Destination stores objects: the sink writes each object once it is complete and
// checkpoints only after Put returned nil. NewDir and NewS3 are the two provided; wrap one
// to add behaviour (encryption, metadata), or implement it for another store.
type Destination interface {
	// Put stores body under name, replacing any object of that name, atomically (a
	// reader sees the old object or the whole new one) and durably (when Put returns nil
	// the object survives a crash of this process and of the machine). Names are
	// relative, '/'-separated, without empty, "." or ".." elements. An error makes the
	// sink try again after a backoff.
	Put(ctx context.Context, name string, body []byte) error
	// Get returns the object stored under name, or an error matching ErrNotFound.
	Get(ctx context.Context, name string) ([]byte, error)
}

// ConditionalDestination is a Destination that can replace an object only if nobody
// changed it since it was read (S3's conditional writes; a lock for a directory). Both
// provided destinations have it; the sink uses it for its per-shard state object, so two
// workers that both believe they hold a shard (a lease moving from a worker still
// running) can never record different ends for the same batch, and so never write
// overlapping objects. Without it that needs both to decide within the same moment.
type ConditionalDestination interface {
	Destination
	// GetVersion returns the object stored under name and an opaque version of it, or
	// an error matching ErrNotFound.
	GetVersion(ctx context.Context, name string) (body []byte, version string, err error)
	// PutIfVersion stores body under name, as Put, only if the object's version is
	// still version ("" for an object that must not exist yet); otherwise it stores
	// nothing and returns an error matching ErrConflict.
	PutIfVersion(ctx context.Context, name string, body []byte, version string) error
}

// ErrConflict is matched by the error of ConditionalDestination.PutIfVersion when the
// object changed since it was read.
var ErrConflict = errors.New("sink: object changed since it was read")

// ErrNotFound is matched (errors.Is) by the error of Destination.Get for a name that
// holds no object.
var ErrNotFound = errors.New("sink: object not found")

// ErrInvalidOptions is matched by the errors of Validate, and of Initialize of the
// processors of a sink made with invalid options; the message says which option and why.
var ErrInvalidOptions = errors.New("sink: invalid options")

// WriteError reports a failed write of an object; the sink logs it and tries again.
type WriteError struct {
	// Name is the object's name.
	Name string
	// Attempt counts the attempts so far, 1 for the first.
	Attempt int
	// Err is the destination's error.
	Err error
}

func (e *WriteError) Error() string {
	return "sink: writing object " + e.Name + ": " + e.Err.Error()
}

// Unwrap returns the destination's error.
func (e *WriteError) Unwrap() error { return e.Err }

// ErrAccessDenied matches (errors.Is) every *AccessDeniedError.
var ErrAccessDenied = errors.New("sink: access denied")

// AccessDeniedError reports that the destination refused a write or a read for lack of
// permission (S3's AccessDenied). The sink keeps retrying, so the shard waits until the
// permission is granted; the log says which. It matches ErrAccessDenied.
type AccessDeniedError struct {
	// Action is the denied IAM action, e.g. "s3:PutObject".
	Action string
	// Resource is the object, e.g. "s3://bucket/key".
	Resource string
	// Err is the AWS error.
	Err error
}

func (e *AccessDeniedError) Error() string {
	return awserr.AccessDenied{Package: "sink", Action: e.Action, Resource: e.Resource, Err: e.Err}.Message()
}

// Is reports ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Unwrap returns the AWS error.
func (e *AccessDeniedError) Unwrap() error { return e.Err }
