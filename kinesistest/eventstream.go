package kinesistest

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// serveSubscribe answers SubscribeToShard like AWS: an HTTP 200 event stream
// that starts with an initial-response event, then SubscribeToShardEvent
// events, ending cleanly after Options.SubscriptionDuration or after the event with
// the shard's ChildShards, or with an exception event.
func (k *Kinesis) serveSubscribe(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		kinesis.SubscribeToShardInput
		StartingPosition *struct {
			Type           types.ShardIteratorType
			SequenceNumber *string
			Timestamp      *epoch
		}
	}
	if err := decode(body, &in); err != nil {
		writeAPIError(w, err)
		return
	}
	if p := in.StartingPosition; p != nil {
		in.SubscribeToShardInput.StartingPosition = &types.StartingPosition{
			Type: types.ShardIteratorType(p.Type), SequenceNumber: p.SequenceNumber, Timestamp: p.Timestamp.ptr(),
		}
	}
	ctx := r.Context()
	sub, err := k.subscribeToShard(ctx, &in.SubscribeToShardInput)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	defer sub.close()

	setHeaders(w)
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	es := eventWriter{w: w, enc: eventstream.NewEncoder()}
	if es.event("initial-response", []byte("{}")) != nil {
		return
	}
	for {
		ev, more, err := sub.next(ctx)
		if err != nil {
			es.exception(err)
			return
		}
		if ev == nil {
			return
		}
		payload, err := json.Marshal(struct {
			Records                    []jsonRecord
			ContinuationSequenceNumber *string `json:",omitempty"`
			MillisBehindLatest         *int64
			ChildShards                []jsonChild `json:",omitempty"`
		}{toJSONRecords(ev.Records), ev.ContinuationSequenceNumber, ev.MillisBehindLatest, toJSONChildren(ev.ChildShards)})
		if err != nil {
			es.exception(err)
			return
		}
		if es.event("SubscribeToShardEvent", payload) != nil || !more {
			return
		}
	}
}

// eventWriter writes event-stream messages and flushes each one.
type eventWriter struct {
	w   http.ResponseWriter
	enc *eventstream.Encoder
}

func (e eventWriter) write(h eventstream.Headers, payload []byte) error {
	if err := e.enc.Encode(e.w, eventstream.Message{Headers: h, Payload: payload}); err != nil {
		return err
	}
	return http.NewResponseController(e.w).Flush()
}

func (e eventWriter) event(typ string, payload []byte) error {
	return e.write(eventstream.Headers{
		{Name: ":message-type", Value: eventstream.StringValue("event")},
		{Name: ":event-type", Value: eventstream.StringValue(typ)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
	}, payload)
}

// exception ends the stream with err as an exception event, the way AWS
// reports errors after the stream started.
func (e eventWriter) exception(err error) {
	code, msg := "InternalFailureException", err.Error()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, msg = ae.ErrorCode(), ae.ErrorMessage()
	}
	payload, _ := json.Marshal(struct {
		Message string `json:"message"`
	}{msg})
	_ = e.write(eventstream.Headers{
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
		{Name: ":exception-type", Value: eventstream.StringValue(code)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
	}, payload)
}
