package consumer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

var (
	// ErrLeaseLost is returned by a Checkpointer after the worker lost the shard's lease
	// (another worker took it, it could not be renewed in time, or the worker released it
	// on shutdown). The records since the last checkpoint will be processed again by the
	// new owner; stop working on the shard.
	ErrLeaseLost = errors.New("consumer: lease lost")

	// ErrInvalidCheckpoint is returned by Checkpointer.CheckpointAt for a position that is
	// not a sequence number, is before the shard's last checkpoint or after the last record
	// delivered to the processor, or is not a record delivered on this lease (for example
	// a sequence number of another shard or stream). Nothing was written.
	ErrInvalidCheckpoint = errors.New("consumer: invalid checkpoint")

	// ErrInvalidOptions is returned by New for unusable arguments or Options; the message
	// says which and what to use instead.
	ErrInvalidOptions = errors.New("consumer: invalid options")

	// ErrAlreadyRunning is returned by Run while another Run of the same Consumer is in
	// progress.
	ErrAlreadyRunning = errors.New("consumer: Run is already in progress")

	// ErrStreamNotFound is returned by Run when the stream does not exist: check the name
	// and the region of the client.
	ErrStreamNotFound = errors.New("consumer: stream not found")

	// ErrAccessDenied matches (errors.Is) every *AccessDeniedError.
	ErrAccessDenied = errors.New("consumer: access denied by Kinesis")

	// ErrShutdownTimeout matches (errors.Is) every *ShutdownTimeoutError: Run returned
	// although some processors had not returned in time.
	ErrShutdownTimeout = errors.New("consumer: processors did not return in time at shutdown")
)

// ShutdownTimeoutError is returned by Run when processors had not returned twice
// Options.ShutdownTimeout after Run's context ended: a RecordProcessor method that ignores
// its ctx. Run released those shards' leases (when it could) and returned without waiting
// for their processors; each of their goroutines ends, without further processor calls,
// when the processor call it is in returns. It matches ErrShutdownTimeout.
type ShutdownTimeoutError struct {
	// Shards are the shards whose processors had not returned, sorted.
	Shards []string
	// Waited is how long Run waited for them after its context ended.
	Waited time.Duration
}

func (e *ShutdownTimeoutError) Error() string {
	return fmt.Sprintf("consumer: the processors of shards %s had not returned %v after shutdown began; Run returned without them "+
		"(their leases were released): make every RecordProcessor method return when its ctx is cancelled",
		strings.Join(e.Shards, ", "), e.Waited)
}

// Is reports ErrShutdownTimeout.
func (e *ShutdownTimeoutError) Is(target error) bool { return target == ErrShutdownTimeout }

// AccessDeniedError reports a Kinesis AccessDeniedException: the IAM identity the client
// runs as may not perform Action on the stream. It matches ErrAccessDenied (errors.Is)
// and unwraps to the AWS error; the producer and the checkpoint store report denials
// with the same shape.
type AccessDeniedError struct {
	// Action is the denied IAM action, e.g. "kinesis:GetRecords".
	Action string
	// Resource is the stream, as "stream NAME".
	Resource string
	// Stream is the stream name.
	Stream string
	// Err is the AWS error.
	Err error

	fanOut bool // the consumer reads with enhanced fan-out: it needs other actions
}

func (e *AccessDeniedError) Error() string {
	needs := "The consumer needs kinesis:DescribeStreamSummary, kinesis:ListShards, kinesis:GetShardIterator and kinesis:GetRecords on the stream"
	if e.fanOut {
		needs = "An enhanced fan-out consumer needs kinesis:DescribeStreamSummary, kinesis:ListShards, kinesis:RegisterStreamConsumer, " +
			"kinesis:DescribeStreamConsumer and kinesis:SubscribeToShard (and kinesis:DeregisterStreamConsumer with DeregisterOnShutdown)"
	}
	return awserr.AccessDenied{Package: "consumer", Action: e.Action, Resource: e.Resource, Needs: needs, Err: e.Err}.Message()
}

// Is reports ErrAccessDenied.
func (e *AccessDeniedError) Is(target error) bool { return target == ErrAccessDenied }

// Unwrap returns the AWS error.
func (e *AccessDeniedError) Unwrap() error { return e.Err }

// PanicError is the error a RecordProcessor method's panic is turned into. The consumer
// treats it like an error returned by that method (a ProcessRecords panic retries the
// batch).
type PanicError struct {
	// Method is the RecordProcessor method that panicked, e.g. "ProcessRecords".
	Method string
	// Value is the value passed to panic.
	Value any
	// Stack is the goroutine's stack at the panic.
	Stack []byte

	pcs []uintptr // the panicking call stack, to recognise the same panic again
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("consumer: RecordProcessor.%s panicked: %v\n%s", e.Method, e.Value, e.Stack)
}

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// kinesisError wraps err from action with what the caller can act on.
func (c *Consumer) kinesisError(action string, err error) error {
	switch awserr.Code(err) {
	case awserr.CodeAccessDenied:
		return &AccessDeniedError{Action: action, Resource: "stream " + c.stream, Stream: c.stream, Err: err, fanOut: c.fanOut != nil}
	case awserr.CodeResourceNotFound:
		return fmt.Errorf("%w: %s of stream %q: %w", ErrStreamNotFound, action, c.stream, err)
	}
	return fmt.Errorf("consumer: %s of stream %q: %w", action, c.stream, err)
}
