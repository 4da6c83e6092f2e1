package kinesisfake

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Op names a Kinesis operation the fake implements. Its String is the AWS
// operation name ("PutRecords").
type Op int

// The operations the fake implements.
const (
	OpCreateStream Op = iota
	OpDeleteStream
	OpDescribeStream
	OpDescribeStreamSummary
	OpListStreams
	OpListShards
	OpPutRecord
	OpPutRecords
	OpGetShardIterator
	OpGetRecords
	OpSplitShard
	OpMergeShards
	OpUpdateShardCount
	numOps
)

var opNames = [numOps]string{
	"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary",
	"ListStreams", "ListShards", "PutRecord", "PutRecords", "GetShardIterator",
	"GetRecords", "SplitShard", "MergeShards", "UpdateShardCount",
}

// String returns the AWS operation name.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// CallHook runs at the start of every operation, after the call is counted and
// before anything else. in is the operation's input (*kinesis.PutRecordsInput
// for OpPutRecords, ...). Returning a non-nil error fails the call with that
// error and changes nothing, so a test can inject, say, a
// *types.LimitExceededException into the third ListShards call. It must be
// safe for concurrent use.
type CallHook func(ctx context.Context, op Op, in any) error

// PutRecordsHook runs for every PutRecords call that passed validation, before
// any record is stored. A non-nil err fails the whole call with err and stores
// nothing. Otherwise failed maps entry indexes to the ErrorCode their result
// gets ("ProvisionedThroughputExceededException" or "InternalFailure" are what
// AWS returns); those entries are not stored and count in FailedRecordCount,
// the others succeed. It must be safe for concurrent use.
type PutRecordsHook func(ctx context.Context, in *kinesis.PutRecordsInput) (failed map[int]string, err error)

// GetRecordsHook runs for every GetRecords call with a valid iterator, before
// anything is read. A non-nil error fails the call with it (for example a
// *types.ProvisionedThroughputExceededException or *types.ExpiredIteratorException);
// the iterator stays usable. It must be safe for concurrent use.
type GetRecordsHook func(ctx context.Context, in *kinesis.GetRecordsInput) error

// SetCallHook installs h (nil removes it). See CallHook.
func (k *Kinesis) SetCallHook(h CallHook) {
	if h == nil {
		k.callHook.Store(nil)
		return
	}
	k.callHook.Store(&h)
}

// SetPutRecordsHook installs h (nil removes it). See PutRecordsHook.
func (k *Kinesis) SetPutRecordsHook(h PutRecordsHook) {
	if h == nil {
		k.putHook.Store(nil)
		return
	}
	k.putHook.Store(&h)
}

// SetGetRecordsHook installs h (nil removes it). See GetRecordsHook.
func (k *Kinesis) SetGetRecordsHook(h GetRecordsHook) {
	if h == nil {
		k.getHook.Store(nil)
		return
	}
	k.getHook.Store(&h)
}

// Stats are counters since New.
type Stats struct {
	// Calls counts calls per operation, including failed ones.
	Calls map[Op]int64
	// RecordsPut and BytesPut count records accepted by PutRecord(s) and their
	// data bytes (also with DiscardData).
	RecordsPut, BytesPut int64
	// RecordsFailed counts PutRecords entries rejected through a PutRecordsHook.
	RecordsFailed int64
	// RecordsRead and BytesRead count records returned by GetRecords and their
	// data bytes.
	RecordsRead, BytesRead int64
}

// Stats returns a snapshot of the counters.
func (k *Kinesis) Stats() Stats {
	st := Stats{
		Calls:         make(map[Op]int64, numOps),
		RecordsPut:    k.recsPut.Load(),
		BytesPut:      k.bytesPut.Load(),
		RecordsFailed: k.recsFail.Load(),
		RecordsRead:   k.recsRead.Load(),
		BytesRead:     k.bytesRead.Load(),
	}
	for op := range numOps {
		if n := k.counters[op].Load(); n != 0 {
			st.Calls[op] = n
		}
	}
	return st
}

// Errors are the SDK's own types, so errors.As and smithy.APIError work on them
// exactly as on errors from AWS.

func notFound(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.ResourceNotFoundException{Message: &msg}
}

func invalidArgument(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.InvalidArgumentException{Message: &msg}
}

func validation(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.ValidationException{Message: &msg}
}

func inUse(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.ResourceInUseException{Message: &msg}
}

func limitExceeded(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.LimitExceededException{Message: &msg}
}

func expiredIterator(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.ExpiredIteratorException{Message: &msg}
}

func expiredToken(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &types.ExpiredNextTokenException{Message: &msg}
}
