package deadletter

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kinesis-go/kinesis/consumer"
)

// EnvelopeVersion is the Version of the envelopes this package writes.
const EnvelopeVersion = 1

// ErrNotAnEnvelope is wrapped by Decode's error for data that is not a dead-letter
// envelope of a known version.
var ErrNotAnEnvelope = errors.New("deadletter: not a dead-letter envelope")

// Envelope is the JSON document written to the dead-letter stream for each given-up
// record: the original record (data, keys, coordinates) and why it was given up. Its
// JSON form is stable (field names below; Data is base64, as encoding/json writes
// []byte; times are RFC 3339 with nanoseconds), so tools in any language can read it:
//
//	{"version":1,"stream":"orders","shardId":"shardId-000000000003",
//	 "sequenceNumber":"4959...","subSequenceNumber":0,"partitionKey":"customer-42",
//	 "approximateArrivalTimestamp":"2026-12-03T10:15:00.123Z","data":"eyJvcmRlciI6...",
//	 "attempts":3,"reason":"RetriesExhausted","error":"inventory: unknown SKU",
//	 "failedAt":"2026-12-03T10:15:04.5Z"}
type Envelope struct {
	// Version is EnvelopeVersion.
	Version int `json:"version"`
	// Stream is the stream the record was read from.
	Stream string `json:"stream"`
	// ShardID is the shard it was read from.
	ShardID string `json:"shardId"`
	// SequenceNumber and SubSequenceNumber locate the record in its shard (the
	// subsequence number is its index inside a KPL-aggregated record, else 0).
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber int64  `json:"subSequenceNumber"`
	// PartitionKey and ExplicitHashKey are the record's keys (the explicit hash key is
	// known only for KPL-aggregated sub-records).
	PartitionKey    string `json:"partitionKey"`
	ExplicitHashKey string `json:"explicitHashKey,omitempty"`
	// ApproximateArrivalTimestamp is when Kinesis received the original record.
	ApproximateArrivalTimestamp time.Time `json:"approximateArrivalTimestamp"`
	// Data is the record's payload (base64 in JSON).
	Data []byte `json:"data"`
	// Attempts is how many times the record was delivered to the processor.
	Attempts int `json:"attempts"`
	// Reason is consumer.RetriesExhausted or consumer.RecordTooOld.
	Reason consumer.FailureReason `json:"reason"`
	// Error is the text of the last error.
	Error string `json:"error"`
	// FailedAt is when the record was given up.
	FailedAt time.Time `json:"failedAt"`
}

// NewEnvelope returns the envelope of f, given up at failedAt.
func NewEnvelope(f consumer.FailedRecord, failedAt time.Time) Envelope {
	e := Envelope{
		Version:                     EnvelopeVersion,
		Stream:                      f.StreamName,
		ShardID:                     f.ShardID,
		SequenceNumber:              f.Record.SequenceNumber,
		SubSequenceNumber:           f.Record.SubSequenceNumber,
		PartitionKey:                f.Record.PartitionKey,
		ExplicitHashKey:             f.Record.ExplicitHashKey,
		ApproximateArrivalTimestamp: f.Record.ApproximateArrivalTimestamp.UTC(),
		Data:                        f.Record.Data,
		Attempts:                    f.Attempts,
		Reason:                      f.Reason,
		FailedAt:                    failedAt.UTC(),
	}
	if f.Err != nil {
		e.Error = f.Err.Error()
	}
	return e
}

// Decode parses an envelope written by this package (the Data of a record of the
// dead-letter stream).
func Decode(data []byte) (Envelope, error) {
	var e Envelope
	if err := json.Unmarshal(data, &e); err != nil {
		return Envelope{}, fmt.Errorf("%w: %w", ErrNotAnEnvelope, err)
	}
	switch {
	case e.Version != EnvelopeVersion:
		return Envelope{}, fmt.Errorf("%w: version %d (this package reads version %d)", ErrNotAnEnvelope, e.Version, EnvelopeVersion)
	case e.PartitionKey == "":
		return Envelope{}, fmt.Errorf("%w: no partitionKey", ErrNotAnEnvelope)
	}
	return e, nil
}
