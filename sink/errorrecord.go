package sink

import (
	"encoding/json"

	"github.com/kinesis-go/kinesis/consumer"
)

// ErrorRecord is one line of an error output object: a record the sink could not
// deliver to the Prefix, with why. Objects under ErrorOutputPrefix are JSON lines of
// ErrorRecord, compressed like the other objects.
type ErrorRecord struct {
	// ErrorOutputType is ErrorOutputProcessingFailed or ErrorOutputFormatConversionFailed.
	ErrorOutputType string `json:"errorOutputType"`
	// ErrorMessage is the error's text.
	ErrorMessage string `json:"errorMessage"`
	// ApproximateArrivalTimestamp is the record's arrival time in Kinesis, in
	// milliseconds since the Unix epoch.
	ApproximateArrivalTimestamp int64 `json:"approximateArrivalTimestamp"`
	// ShardID, SequenceNumber, SubSequenceNumber and PartitionKey identify the record.
	ShardID           string `json:"shardId"`
	SequenceNumber    string `json:"sequenceNumber"`
	SubSequenceNumber int64  `json:"subSequenceNumber"`
	PartitionKey      string `json:"partitionKey"`
	// RawData is the record's data (after Transform for format conversion failures),
	// base64-encoded in JSON.
	RawData []byte `json:"rawData"`
}

func errorLine(typ string, err error, r consumer.Record, data []byte) []byte {
	b, _ := json.Marshal(ErrorRecord{
		ErrorOutputType:             typ,
		ErrorMessage:                err.Error(),
		ApproximateArrivalTimestamp: r.ApproximateArrivalTimestamp.UnixMilli(),
		ShardID:                     r.ShardID,
		SequenceNumber:              r.SequenceNumber,
		SubSequenceNumber:           r.SubSequenceNumber,
		PartitionKey:                r.PartitionKey,
		RawData:                     data,
	})
	return append(b, '\n')
}
