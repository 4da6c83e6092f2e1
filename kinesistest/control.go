package kinesistest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Op names a Kinesis operation the server implements. Its String is the AWS
// operation name ("PutRecords").
type Op int

// The operations the server implements, and OpAny for Control.
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
	OpIncreaseStreamRetentionPeriod
	OpDecreaseStreamRetentionPeriod
	OpRegisterStreamConsumer
	OpDescribeStreamConsumer
	OpListStreamConsumers
	OpDeregisterStreamConsumer
	OpSubscribeToShard
	numOps

	// OpAny makes a control see every operation.
	OpAny Op = -1
)

var opNames = [numOps]string{
	"CreateStream", "DeleteStream", "DescribeStream", "DescribeStreamSummary",
	"ListStreams", "ListShards", "PutRecord", "PutRecords", "GetShardIterator",
	"GetRecords", "SplitShard", "MergeShards", "UpdateShardCount",
	"IncreaseStreamRetentionPeriod", "DecreaseStreamRetentionPeriod",
	"RegisterStreamConsumer", "DescribeStreamConsumer", "ListStreamConsumers",
	"DeregisterStreamConsumer", "SubscribeToShard",
}

// String returns the AWS operation name.
func (o Op) String() string {
	if o == OpAny {
		return "any operation"
	}
	if o < 0 || o >= numOps {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// ErrConnectionReset, returned (or wrapped) by a ControlFunc, makes the server
// close the connection without answering, which the SDK reports as a
// retryable connection error. The request may or may not have been applied,
// depending on whether the control called Call.Proceed first. On the
// in-process API (Server.Kinesis) the call returns it as its error.
var ErrConnectionReset = errors.New("kinesistest: connection reset by a control")

// ControlFunc intercepts a call, in the style of franz-go's kfake ControlKey.
// It returns handled=false to let the call go on (to the next control, then
// to the server), or handled=true to answer with out or err instead. out
// must then be the operation's output type (*kinesis.PutRecordsOutput for
// OpPutRecords); nil out with nil err answers with an empty output. err is
// typically an SDK error type, for example
// &types.ProvisionedThroughputExceededException{Message: aws.String("Rate exceeded")};
// it reaches the client with its code, message and HTTP status (400, or 500
// for server faults such as *types.InternalFailureException). Any other error
// becomes an InternalFailure; ErrConnectionReset drops the connection.
//
// A control is removed after it handled a call, unless it called
// Call.KeepControl, and is kept when it did not, unless it called
// Call.DropControl. Controls run in the order they were added; one control
// sees one call at a time (calls wait for it, except while it sleeps in
// Call.Sleep), so one-shot controls handle exactly one call.
type ControlFunc func(c *Call) (out any, err error, handled bool)

// Call is an intercepted call, as a ControlFunc sees it.
type Call struct {
	// Op is the operation.
	Op Op
	// Input is the operation's input, e.g. *kinesis.PutRecordsInput. Treat it
	// as read-only.
	Input any

	ctx     context.Context
	k       *Kinesis
	cur     *control
	keep    bool
	drop    bool
	failed  map[int]string
	proceed func(*Call) (any, error)
	result  *proceedResult
}

type proceedResult struct {
	out any
	err error
}

// Context returns the call's context (the request's context over HTTP).
func (c *Call) Context() context.Context { return c.ctx }

// KeepControl keeps the running control after it handles this call.
func (c *Call) KeepControl() { c.keep = true }

// DropControl removes the running control even if it does not handle this
// call.
func (c *Call) DropControl() { c.drop = true }

// Sleep waits for d (on the time package's clock, so a synctest bubble
// controls it) or until the call's context ends, whichever is first, and
// returns the context's error in the second case. Other calls may run the
// same control meanwhile. Use it to script slow responses and client
// timeouts.
func (c *Call) Sleep(d time.Duration) error {
	if c.cur != nil {
		c.cur.mu.Unlock()
		defer c.cur.mu.Lock()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return c.ctx.Err()
	case <-c.k.done:
		return errServerClosed
	}
}

// FailRecord makes entry index of a PutRecords call fail with ErrorCode code
// (for example "ProvisionedThroughputExceededException" or
// "InternalFailure") and the message AWS gives it, when the call goes on
// (handled=false); the other entries are stored as usual. It is ignored for
// other operations and for indexes out of range.
func (c *Call) FailRecord(index int, code string) {
	if c.Op != OpPutRecords {
		return
	}
	if c.failed == nil {
		c.failed = map[int]string{}
	}
	c.failed[index] = code
}

// Proceed runs the call on the server now, once, and returns its output and
// error; later controls do not see it. A control can then answer with
// something else, for example ErrConnectionReset after the records were
// stored (an ambiguous failure that a retrying client duplicates), or
// return the output it got. It must not be called after the control returned.
func (c *Call) Proceed() (any, error) {
	if c.result == nil {
		out, err := c.proceed(c)
		c.result = &proceedResult{out, err}
	}
	return c.result.out, c.result.err
}

// control is one installed ControlFunc.
type control struct {
	op      Op
	fn      ControlFunc
	mu      sync.Mutex // held while fn runs, except in Call.Sleep
	removed bool       // guarded by mu
}

// Control installs fn for the calls of op (OpAny: every operation), over
// HTTP and in process alike, and returns a function that removes it. See
// ControlFunc.
func (s *Server) Control(op Op, fn ControlFunc) (remove func()) { return s.k.Control(op, fn) }

// Control is Server.Control, for code that holds only the in-process API.
func (k *Kinesis) Control(op Op, fn ControlFunc) (remove func()) {
	c := &control{op: op, fn: fn}
	k.ctlMu.Lock()
	list := append(append([]*control(nil), k.controls...), c)
	k.controls = list
	k.hasControls.Store(true)
	k.ctlMu.Unlock()
	return func() { k.removeControl(c) }
}

// removeControl drops c; the caller may hold c.mu.
func (k *Kinesis) removeControl(c *control) {
	k.ctlMu.Lock()
	defer k.ctlMu.Unlock()
	for i, x := range k.controls {
		if x == c {
			k.controls = append(append([]*control(nil), k.controls[:i]...), k.controls[i+1:]...)
			break
		}
	}
	k.hasControls.Store(len(k.controls) > 0)
}

// intercepted is what the controls decided about a call.
type intercepted struct {
	call    *Call // nil when no control was installed
	out     any
	err     error
	handled bool
}

// runControls offers a call to the installed controls in order.
func (k *Kinesis) runControls(ctx context.Context, op Op, in any, proceed func(*Call) (any, error)) intercepted {
	if !k.hasControls.Load() {
		return intercepted{}
	}
	k.ctlMu.Lock()
	list := k.controls
	k.ctlMu.Unlock()
	call := &Call{Op: op, Input: in, ctx: ctx, k: k, proceed: proceed}
	for _, c := range list {
		if c.op != OpAny && c.op != op {
			continue
		}
		r, ran := k.runControl(c, call)
		if !ran {
			continue
		}
		if r.handled {
			return r
		}
		if call.result != nil {
			return intercepted{call: call, out: call.result.out, err: call.result.err, handled: true}
		}
	}
	return intercepted{call: call}
}

// runControl offers call to c; ran is false when c was removed meanwhile.
func (k *Kinesis) runControl(c *control, call *Call) (r intercepted, ran bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.removed {
		return intercepted{}, false
	}
	call.cur, call.keep, call.drop = c, false, false
	out, err, handled := c.fn(call)
	call.cur = nil
	if handled && !call.keep || !handled && call.drop {
		c.removed = true
		k.removeControl(c)
	}
	return intercepted{call: call, out: out, err: err, handled: handled}, true
}

// serve runs one call of op: it counts it, checks ctx, offers it to the
// controls and, unless one answers it, runs do (with the Call the controls
// saw, nil when none is installed).
func serve[Out any](k *Kinesis, ctx context.Context, op Op, in any, do func(*Call) (Out, error)) (Out, error) {
	k.counters[op].Add(1)
	var zero Out
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	select {
	case <-k.done:
		return zero, errServerClosed
	default:
	}
	r := k.runControls(ctx, op, in, func(c *Call) (any, error) { return do(c) })
	if r.handled {
		return answer[Out](r, op)
	}
	return do(r.call)
}

// answer converts what a control answered into the operation's output type.
func answer[Out any](r intercepted, op Op) (Out, error) {
	var zero Out
	if r.err != nil {
		return zero, r.err
	}
	if r.out == nil {
		t := reflect.TypeFor[Out]()
		if t.Kind() == reflect.Pointer {
			return reflect.New(t.Elem()).Interface().(Out), nil
		}
		return zero, nil
	}
	out, ok := r.out.(Out)
	if !ok {
		return zero, internalFailure("kinesistest: the control for %s answered with a %T, want %T", op, r.out, zero)
	}
	return out, nil
}

// Stats are counters since the server started.
type Stats struct {
	// Calls counts calls per operation, including failed ones.
	Calls map[Op]int64
	// RecordsPut and BytesPut count records accepted by PutRecord(s) and their
	// data bytes (also with DiscardData).
	RecordsPut, BytesPut int64
	// RecordsFailed counts PutRecords entries that failed: by Limits or by a
	// control's Call.FailRecord.
	RecordsFailed int64
	// Throttled counts calls and PutRecords entries refused by Limits.
	Throttled int64
	// RecordsRead and BytesRead count records returned by GetRecords and
	// SubscribeToShard events and their data bytes.
	RecordsRead, BytesRead int64
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats { return s.k.Stats() }

// Stats returns a snapshot of the counters (see Server.Stats).
func (k *Kinesis) Stats() Stats {
	st := Stats{
		Calls:         make(map[Op]int64, numOps),
		RecordsPut:    k.recsPut.Load(),
		BytesPut:      k.bytesPut.Load(),
		RecordsFailed: k.recsFail.Load(),
		Throttled:     k.throttled.Load(),
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

var errServerClosed = &types.ResourceNotFoundException{Message: ptr("kinesistest: the server is closed")}

func ptr[T any](v T) *T { return &v }

// Errors are the SDK's own types, so errors.As and smithy.APIError work on them
// exactly as on errors from AWS.

func notFound(format string, args ...any) error {
	return &types.ResourceNotFoundException{Message: ptr(fmt.Sprintf(format, args...))}
}

func invalidArgument(format string, args ...any) error {
	return &types.InvalidArgumentException{Message: ptr(fmt.Sprintf(format, args...))}
}

func validation(format string, args ...any) error {
	return &types.ValidationException{Message: ptr(fmt.Sprintf(format, args...))}
}

func inUse(format string, args ...any) error {
	return &types.ResourceInUseException{Message: ptr(fmt.Sprintf(format, args...))}
}

func limitExceeded(format string, args ...any) error {
	return &types.LimitExceededException{Message: ptr(fmt.Sprintf(format, args...))}
}

func expiredIterator(format string, args ...any) error {
	return &types.ExpiredIteratorException{Message: ptr(fmt.Sprintf(format, args...))}
}

func expiredToken(format string, args ...any) error {
	return &types.ExpiredNextTokenException{Message: ptr(fmt.Sprintf(format, args...))}
}

func internalFailure(format string, args ...any) error {
	return &types.InternalFailureException{Message: ptr(fmt.Sprintf(format, args...))}
}

func throughputExceeded(format string, args ...any) error {
	return &types.ProvisionedThroughputExceededException{Message: ptr(fmt.Sprintf(format, args...))}
}
