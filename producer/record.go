package producer

import (
	"time"

	"github.com/kinesis-go/kinesis/aggregation"
)

// Record is a user record to put.
type Record struct {
	// PartitionKey routes the record: records with the same key go to the same shard
	// (unless ExplicitHashKey is set) and, with Options.PreserveOrder, are written in
	// Put order. 1 to 256 Unicode characters, valid UTF-8. Required.
	PartitionKey string
	// ExplicitHashKey, when not empty, routes the record instead of the partition
	// key's MD5: a decimal integer in 0..2^128-1 without sign or leading zeros.
	ExplicitHashKey string
	// Data is the payload. Data plus PartitionKey must fit the stream's max record
	// size (1 MiB unless raised). The producer keeps Data until the record's result
	// is delivered: do not modify it before.
	Data []byte
}

// Result is what happened to a user record that was written.
type Result struct {
	// ShardID is the shard the record was written to.
	ShardID string
	// SequenceNumber is the sequence number of the Kinesis record that carries the
	// user record. With aggregation, several user records share it.
	SequenceNumber string
	// SubSequenceNumber is the user record's index inside its aggregated Kinesis
	// record (0 when Aggregated is false). Consumers see the pair (SequenceNumber,
	// SubSequenceNumber), and KCL checkpoints carry both.
	SubSequenceNumber int64
	// Aggregated says whether the record was written inside a KPL aggregated record.
	Aggregated bool
	// Attempts lists every PutRecords attempt that carried the record, oldest first;
	// the last one succeeded. The slice is shared by the user records of one Kinesis
	// record: do not modify it.
	Attempts []Attempt
}

// Attempt is one PutRecords call that carried a record.
type Attempt struct {
	// Delay is how long the record waited before this attempt started: since Put for
	// the first attempt, since the previous attempt ended for the others (buffering,
	// rate limiting, backoff).
	Delay time.Duration
	// Duration is how long the PutRecords call took.
	Duration time.Duration
	// ShardID is the shard the record was predicted to go to.
	ShardID string
	// ErrorCode is empty when the attempt succeeded. Otherwise it is the AWS error code
	// of the entry or of the whole call (e.g. "ProvisionedThroughputExceededException",
	// "InternalFailure"), or "Timeout", "ConnectionError", "Canceled", or "WrongShard"
	// when the record was written to a shard whose hash key range does not hold it (it
	// was then put again).
	ErrorCode string
	// ErrorMessage describes the failure.
	ErrorMessage string
	// Ambiguous is true when the attempt failed in a way that may have written the
	// record anyway (a timeout, a connection reset, a 5xx answer to the whole call), so
	// that the retry may have written it twice. Consumers that need exactly-once
	// processing must deduplicate.
	Ambiguous bool
}

// Succeeded reports whether the attempt wrote the record.
func (a Attempt) Succeeded() bool { return a.ErrorCode == "" }

// urec is a buffered user record, from Put until its result is delivered. It is kept
// by value in the slices of its aggregate buffer and Kinesis record: no allocation
// or pooling per user record.
//
// It is copied on every Put, so it is kept small (112 bytes).
type urec struct {
	rec     Record
	hash    aggregation.Hash128
	done    func(Result, error)
	arrival int64 // p.now() when buffered (that of its aggregate's first record)
	ep      *epoch
	prior   *[]Attempt // attempts before a re-put after landing on a wrong shard
	sub     int32      // index inside its aggregate
	hashed  bool       // hash is set (from the explicit hash key, or by the router)
}

// charge is what u counts against MaxBufferedBytes.
func (u *urec) charge() int64 {
	return int64(len(u.rec.Data)+len(u.rec.PartitionKey)+len(u.rec.ExplicitHashKey)) + RecordOverhead
}

// krec is a Kinesis record: an aggregate of user records or one plain user record,
// from encoding until its user records' results are delivered. It is also the unit of
// delivery: a result (shardID, seqNum or err) for all of recs.
type krec struct {
	recs []urec
	one  [1]urec // backing array of recs for a plain record
	buf  *[]byte // pooled backing array of data for an aggregate

	pk, ehk    string
	data       []byte
	size       int   // len(data)+len(pk): what Kinesis counts
	userBytes  int64 // sum of the user records' data
	aggregated bool

	shard    *shard // predicted
	deadline int64  // send by then (oldest arrival + RecordMaxBufferedTime)
	expiry   int64  // fail by then (oldest arrival + RecordTTL)
	oldest   int64  // oldest arrival
	lastEnd  int64  // end of the last attempt, or oldest arrival

	attempts  []Attempt
	notBefore int64 // retry backoff
	lastErr   error // cause of the last failure
	next      *krec // intrusive list link

	// outcome
	shardID, seqNum string
	err             error
}

func (k *krec) reset() { *k = krec{} }

// krecList is an intrusive FIFO of krecs.
type krecList struct {
	head, tail *krec
	n          int
}

func (l *krecList) pushBack(k *krec) {
	k.next = nil
	if l.tail == nil {
		l.head = k
	} else {
		l.tail.next = k
	}
	l.tail = k
	l.n++
}

func (l *krecList) popFront() *krec {
	k := l.head
	if k == nil {
		return nil
	}
	l.head = k.next
	if l.head == nil {
		l.tail = nil
	}
	k.next = nil
	l.n--
	return k
}

// appendList moves all of o to the back of l.
func (l *krecList) appendList(o *krecList) {
	if o.head == nil {
		return
	}
	if l.tail == nil {
		l.head = o.head
	} else {
		l.tail.next = o.head
	}
	l.tail = o.tail
	l.n += o.n
	*o = krecList{}
}
