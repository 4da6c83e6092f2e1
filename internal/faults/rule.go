package faults

import (
	"net/http"
	"time"
)

// Service names reported in Call.Service and matched by Rule.Service.
const (
	// ServiceKinesis is a call whose X-Amz-Target starts with "Kinesis_20131202.".
	ServiceKinesis = "Kinesis"
	// ServiceDynamoDB is a call whose X-Amz-Target starts with "DynamoDB_20120810.".
	ServiceDynamoDB = "DynamoDB"
)

// Account is the AWS account id used in synthesized error messages and ARNs.
const Account = "123456789012"

// Call describes one request as the injector sees it. Rules match on it; hooks receive it.
// Treat it as read-only.
type Call struct {
	// Service is ServiceKinesis or ServiceDynamoDB; "" for a request that is not an AWS
	// JSON-protocol call (such a request is forwarded untouched).
	Service string
	// Op is the operation name from X-Amz-Target, e.g. "PutRecords", "GetRecords",
	// "PutItem".
	Op string
	// Stream is the stream name from StreamName, StreamARN or ConsumerARN; for GetRecords
	// it is learnt from the iterator's lineage (see Injector). "" when unknown.
	Stream string
	// Shard is the shard id: the request's ShardId (GetShardIterator, SubscribeToShard,
	// SplitShard...), the shard PutRecord routes to, or for GetRecords the shard its
	// iterator was issued for. "" when unknown. PutRecords entries carry their own shard
	// in PutEntry.Shard.
	Shard string
	// Table is the DynamoDB TableName, "" when the request has none.
	Table string
	// Request is the incoming request. Do not read its body; use Body.
	Request *http.Request
	// Body is the complete request body.
	Body []byte
}

// PutEntry is one entry of a PutRecords request.
type PutEntry struct {
	// Index is the entry's position in the request's Records.
	Index int
	// PartitionKey and ExplicitHashKey are as sent ("" when ExplicitHashKey is absent).
	PartitionKey    string
	ExplicitHashKey string
	// DataLen is the length of the decoded Data blob in bytes.
	DataLen int
	// Shard is the shard the entry routes to, "" when the stream's shard map is unknown
	// (see Injector for how it is learnt).
	Shard string
}

// Hit is passed to Rule.Hook each time the rule applies.
type Hit struct {
	// Call is the request the rule applied to.
	Call *Call
	// Entry is the PutRecords entry an entry fault applied to; nil for whole-call faults.
	Entry *PutEntry
	// Fault is the rule's fault.
	Fault Fault
}

// Rule selects calls (or PutRecords entries) and the fault to apply to them. Every
// non-zero match field must match; zero fields match anything.
type Rule struct {
	// Service restricts the rule to ServiceKinesis or ServiceDynamoDB. Default: both.
	// Set it when Op alone is ambiguous (TagResource exists in both).
	Service string
	// Op restricts the rule to one operation name, e.g. "GetRecords". Default: any.
	Op string
	// Stream restricts the rule to one stream name. Default: any.
	Stream string
	// Shard restricts the rule to one shard id (Call.Shard, or PutEntry.Shard for entry
	// faults). A rule with Shard set never matches when the shard is unknown.
	Shard string
	// Table restricts the rule to one DynamoDB table name. Default: any.
	Table string
	// Match, when set, must also return true. It runs with the injector's lock held:
	// keep it fast and do not call the Injector from it.
	Match func(c *Call) bool
	// Entry, for entry faults (FailEntry and friends), selects the PutRecords entries
	// the fault may apply to. Default: every entry. Same restrictions as Match.
	Entry func(e PutEntry) bool

	// Times caps how often the rule applies (calls, or entries for entry faults).
	// Default 0: unlimited.
	Times int
	// Probability is the chance that a matching call (or entry) is faulted, drawn from the
	// injector's seeded generator (Options.Seed). Default 0 means 1: always.
	Probability float64

	// Fault is what happens. The zero Fault only observes: the rule's Hook runs and the
	// call goes on to later rules.
	Fault Fault
	// Hook, when set, runs each time the rule applies, in the calling goroutine, before
	// the fault takes effect (so a test can cancel a context while a Delay waits). It may
	// call the Injector.
	Hook func(Hit)
}

type faultKind int

const (
	kindNone faultKind = iota
	kindError
	kindReset
	kindDelay
	kindEntry
	kindAfter
)

// Fault is what a Rule does to the calls it matches. Build one with the functions
// below; the zero Fault does nothing (observe only).
type Fault struct {
	kind    faultKind
	status  int
	code    string
	message string
	// msgFor builds the message from the call when message is "".
	msgFor func(c *Call) string
	// codeFor overrides code per service (InternalFailure differs in DynamoDB).
	codeFor func(c *Call) string
	delay   time.Duration
	inner   *Fault
}

// String describes the fault, for test failure messages.
func (f Fault) String() string {
	switch f.kind {
	case kindError:
		return "error " + f.code
	case kindReset:
		return "connection reset"
	case kindDelay:
		return "delay " + f.delay.String()
	case kindEntry:
		return "failed entry " + f.code
	case kindAfter:
		return "after forwarding: " + f.inner.String()
	}
	return "observe"
}

// Error fails the whole call without forwarding it: the client receives an HTTP status
// with an AWS JSON error body {"__type": code, "message": message} and the
// X-Amzn-ErrorType header, which the SDK turns into a smithy.APIError with that
// ErrorCode and ErrorMessage (or the modeled error type, e.g.
// *types.ProvisionedThroughputExceededException).
func Error(status int, code, message string) Fault {
	return Fault{kind: kindError, status: status, code: code, message: message}
}

// InternalFailure is HTTP 500: "InternalFailure" for Kinesis, "InternalServerError" for
// DynamoDB. The SDK's standard retryer retries it.
func InternalFailure() Fault {
	return Fault{kind: kindError, status: http.StatusInternalServerError, code: "InternalFailure",
		message: "Internal service failure.",
		codeFor: func(c *Call) string {
			if c.Service == ServiceDynamoDB {
				return "InternalServerError"
			}
			return "InternalFailure"
		}}
}

// ServiceUnavailable is HTTP 503 "ServiceUnavailable". The SDK's standard retryer
// retries it.
func ServiceUnavailable() Fault {
	return Fault{kind: kindError, status: http.StatusServiceUnavailable, code: "ServiceUnavailable",
		message: "Service Unavailable"}
}

// ProvisionedThroughputExceeded is HTTP 400 "ProvisionedThroughputExceededException",
// the throttle of Kinesis data calls (PutRecord, PutRecords as a whole, GetRecords) and
// of DynamoDB tables, with the message AWS uses for the service.
func ProvisionedThroughputExceeded() Fault {
	return Fault{kind: kindError, status: http.StatusBadRequest, code: codePTE, msgFor: pteMessage}
}

// Throttling is HTTP 400 "ThrottlingException" "Rate exceeded" (DynamoDB request
// throttling, Kinesis control-plane calls).
func Throttling() Fault {
	return Error(http.StatusBadRequest, "ThrottlingException", "Rate exceeded")
}

// LimitExceeded is HTTP 400 "LimitExceededException", what Kinesis returns when its
// control-plane calls (ListShards, DescribeStreamSummary, SubscribeToShard...) exceed
// their rate.
func LimitExceeded() Fault {
	return Fault{kind: kindError, status: http.StatusBadRequest, code: "LimitExceededException",
		msgFor: func(c *Call) string {
			return "Rate exceeded for stream " + c.Stream + " under account " + Account + "."
		}}
}

// ExpiredIterator is HTTP 400 "ExpiredIteratorException" (GetRecords with an iterator
// older than five minutes).
func ExpiredIterator() Fault {
	return Error(http.StatusBadRequest, "ExpiredIteratorException",
		"Iterator expired. The iterator was created at time Mon Jan 01 00:00:00 UTC 2024 while right now it is "+
			"Mon Jan 01 00:05:01 UTC 2024 which is further in the future than the tolerated delay of 300000 milliseconds.")
}

// ResourceNotFound is HTTP 400 "ResourceNotFoundException" with the service's message
// naming the stream or table.
func ResourceNotFound() Fault {
	return Fault{kind: kindError, status: http.StatusBadRequest, code: "ResourceNotFoundException",
		msgFor: func(c *Call) string {
			if c.Service == ServiceDynamoDB {
				return "Requested resource not found"
			}
			return "Stream " + c.Stream + " under account " + Account + " not found."
		}}
}

// AccessDenied is HTTP 400 "AccessDeniedException" with AWS's message, e.g. "User:
// arn:aws:iam::123456789012:user/test is not authorized to perform: dynamodb:PutItem on
// resource: arn:aws:dynamodb:us-east-1:123456789012:table/x".
func AccessDenied() Fault {
	return Fault{kind: kindError, status: http.StatusBadRequest, code: "AccessDeniedException",
		msgFor: accessDeniedMessage}
}

// KMSAccessDenied is HTTP 400 "KMSAccessDeniedException" (a Kinesis stream encrypted
// with a KMS key the caller may not use).
func KMSAccessDenied() Fault {
	return Error(http.StatusBadRequest, "KMSAccessDeniedException",
		"User: arn:aws:iam::"+Account+":user/test is not authorized to perform: kms:GenerateDataKey on resource: "+
			"arn:aws:kms:us-east-1:"+Account+":key/00000000-0000-0000-0000-000000000000")
}

// Validation is HTTP 400 "ValidationException" with message.
func Validation(message string) Fault {
	return Error(http.StatusBadRequest, "ValidationException", message)
}

// ConnectionReset fails the call without forwarding it (nothing reaches the emulator)
// with the error the transport returns when the peer resets the connection: a
// *net.OpError{Op: "read"} wrapping syscall.ECONNRESET. The SDK treats it as a retryable
// connection error. Wrap it in After for the ambiguous variant.
func ConnectionReset() Fault { return Fault{kind: kindReset} }

// Delay waits d before the call goes on to later rules and the emulator. The wait ends
// early with the request context's error when it is cancelled. d is real time, not
// Options.Now.
func Delay(d time.Duration) Fault { return Fault{kind: kindDelay, delay: d} }

// After forwards the whole request to the emulator (so it takes effect: records are
// written, items put) and then fails the call to the client with f, which must be an
// Error or ConnectionReset fault (anything else returns the emulator's response). This is
// the ambiguous failure: a client retrying it may duplicate the write.
func After(f Fault) Fault {
	inner := f
	return Fault{kind: kindAfter, inner: &inner}
}

// FailEntry fails individual PutRecords entries inside an HTTP 200 response, like
// Kinesis does: the selected entries are not forwarded (not written) and come back with
// ErrorCode code and ErrorMessage message (generated when ""), the others are forwarded
// and answered by the emulator, FailedRecordCount counts them all. Rule.Times and
// Rule.Probability count entries, Rule.Entry and Rule.Shard select them. It applies only
// to PutRecords.
func FailEntry(code, message string) Fault {
	f := Fault{kind: kindEntry, code: code, message: message}
	if message == "" {
		f.msgFor = func(c *Call) string {
			if code == codePTE {
				return pteMessage(c)
			}
			return code
		}
	}
	return f
}

// ThrottleEntry is FailEntry with ErrorCode "ProvisionedThroughputExceededException".
func ThrottleEntry() Fault { return FailEntry(codePTE, "") }

// InternalFailureEntry is FailEntry with ErrorCode "InternalFailure" and message
// "Internal service failure.".
func InternalFailureEntry() Fault { return FailEntry("InternalFailure", "Internal service failure.") }

const codePTE = "ProvisionedThroughputExceededException"

func pteMessage(c *Call) string {
	if c.Service == ServiceDynamoDB {
		return "The level of configured provisioned throughput for the table was exceeded. " +
			"Consider increasing your provisioning level with the UpdateTable API."
	}
	shard := c.Shard
	if shard == "" {
		shard = "shardId-000000000000"
	}
	return "Rate exceeded for shard " + shard + " in stream " + c.Stream + " under account " + Account + "."
}

func accessDeniedMessage(c *Call) string {
	var action, resource string
	switch c.Service {
	case ServiceDynamoDB:
		action = "dynamodb:" + c.Op
		resource = "arn:aws:dynamodb:us-east-1:" + Account + ":table/" + c.Table
	default:
		action = "kinesis:" + c.Op
		resource = "arn:aws:kinesis:us-east-1:" + Account + ":stream/" + c.Stream
	}
	return "User: arn:aws:iam::" + Account + ":user/test is not authorized to perform: " + action +
		" on resource: " + resource
}

func (f Fault) codeOf(c *Call) string {
	if f.codeFor != nil {
		return f.codeFor(c)
	}
	return f.code
}

func (f Fault) messageOf(c *Call) string {
	if f.message == "" && f.msgFor != nil {
		return f.msgFor(c)
	}
	return f.message
}
