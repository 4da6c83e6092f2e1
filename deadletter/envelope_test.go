package deadletter

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kinesis-go/kinesis/consumer"
)

func TestEnvelopeJSONIsTheDocumentedShape(t *testing.T) {
	f := consumer.FailedRecord{
		Record: consumer.Record{PartitionKey: "customer-42", ExplicitHashKey: "17", Data: []byte(`{"order":1}`), SequenceNumber: "4959",
			SubSequenceNumber: 2, ApproximateArrivalTimestamp: time.Date(2026, 12, 3, 10, 15, 0, 123e6, time.UTC)},
		StreamName: "orders", ShardID: "shardId-000000000003", Attempts: 3, Err: errors.New("inventory: unknown SKU"), Reason: consumer.RetriesExhausted,
	}
	body, err := json.Marshal(NewEnvelope(f, time.Date(2026, 12, 3, 10, 15, 4, 5e8, time.UTC)))
	require.NoError(t, err)
	assert.JSONEq(t, `{"version":1,"stream":"orders","shardId":"shardId-000000000003","sequenceNumber":"4959","subSequenceNumber":2,
		"partitionKey":"customer-42","explicitHashKey":"17","approximateArrivalTimestamp":"2026-12-03T10:15:00.123Z","data":"eyJvcmRlciI6MX0=",
		"attempts":3,"reason":"RetriesExhausted","error":"inventory: unknown SKU","failedAt":"2026-12-03T10:15:04.5Z"}`, string(body))

	e, err := Decode(body)
	require.NoError(t, err)
	assert.Equal(t, f.Record.Data, e.Data)
	assert.Equal(t, f.Record.PartitionKey, e.PartitionKey)
	assert.Equal(t, f.Record.ExplicitHashKey, e.ExplicitHashKey)
	assert.True(t, f.Record.ApproximateArrivalTimestamp.Equal(e.ApproximateArrivalTimestamp))
}

func TestDecodeRefusesWhatIsNotAnEnvelope(t *testing.T) {
	for _, data := range []string{``, `plain text`, `{"version":2,"partitionKey":"k"}`, `{"version":1}`, `[1]`} {
		_, err := Decode([]byte(data))
		assert.ErrorIs(t, err, ErrNotAnEnvelope, data)
	}
}

// FuzzDecode: Decode never panics, and an envelope it accepts encodes and decodes to
// itself.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"version":1,"stream":"s","partitionKey":"k","data":"AAE=","reason":"RecordTooOld"}`))
	f.Add([]byte(`{"version":1,"partitionKey":"k","data":null,"failedAt":"2026-12-03T10:15:04.5Z"}`))
	f.Add([]byte(`{"version":1,"partitionKey":"\u00e9","subSequenceNumber":-1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		body, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("an accepted envelope does not encode: %v", err)
		}
		again, err := Decode(body)
		if err != nil {
			t.Fatalf("an encoded envelope does not decode: %v", err)
		}
		if again.PartitionKey != e.PartitionKey || string(again.Data) != string(e.Data) || again.SequenceNumber != e.SequenceNumber {
			t.Fatalf("round trip changed the envelope: %+v -> %+v", e, again)
		}
	})
}
