package kinesistest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go"
)

// targetPrefix is the X-Amz-Target prefix of Kinesis operations.
const targetPrefix = "Kinesis_20131202."

var requestIDs atomic.Uint64

// Handler serves the operations over the Kinesis JSON 1.1 protocol
// (POST with X-Amz-Target: Kinesis_20131202.<Operation>, base64 blobs, epoch
// seconds timestamps, errors as {"__type","message"} with status 400 and an
// x-amzn-ErrorType header), SubscribeToShard as an event stream. Signatures are
// not checked. Unsupported operations fail with UnknownOperationException.
// Server serves it; use it directly only to mount the API in your own
// http.Server.
func (k *Kinesis) Handler() http.Handler { return http.HandlerFunc(k.serveHTTP) }

func (k *Kinesis) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		writeError(w, http.StatusMethodNotAllowed, "UnknownOperationException", "only POST is supported")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	if !ok {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown X-Amz-Target %q", target))
		return
	}
	if op == "SubscribeToShard" {
		k.serveSubscribe(w, r, body)
		return
	}
	h := httpOps[op]
	if h == nil {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %s is not supported by kinesistest", op))
		return
	}
	out, err := h(k, r.Context(), body)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	setHeaders(w)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	_, _ = w.Write(b)
}

func setHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("kinesistest-%d", requestIDs.Add(1)))
}

func writeAPIError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrConnectionReset) {
		panic(http.ErrAbortHandler) // net/http closes the connection without a response
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		status := http.StatusBadRequest
		if ae.ErrorFault() == smithy.FaultServer {
			status = http.StatusInternalServerError
		}
		writeError(w, status, ae.ErrorCode(), ae.ErrorMessage())
		return
	}
	if errors.Is(err, errDecode) {
		writeError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, "InternalFailure", err.Error())
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	setHeaders(w)
	w.Header().Set("x-amzn-ErrorType", code)
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{code, msg})
	_, _ = w.Write(b)
}

var errDecode = errors.New("kinesistest: cannot decode request body")

func decode(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: %v", errDecode, err)
	}
	return nil
}

// epoch is a timestamp in the JSON protocol's epoch-seconds form.
type epoch struct{ time.Time }

func newEpoch(t *time.Time) *epoch {
	if t == nil {
		return nil
	}
	return &epoch{*t}
}

func (e *epoch) ptr() *time.Time {
	if e == nil {
		return nil
	}
	return &e.Time
}

func (e epoch) MarshalJSON() ([]byte, error) {
	ms := e.UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', 3, 64)), nil
}

func (e *epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: want epoch seconds", b)
	}
	e.Time = time.UnixMilli(int64(math.Round(f * 1000)))
	return nil
}

type httpOp func(k *Kinesis, ctx context.Context, body []byte) (any, error)

// op adapts a method of Kinesis to the JSON protocol: decode the input, call the method,
// and shape its output for encoding/json with toJSON.
func op[In, Out any](call func(*Kinesis, context.Context, *In, ...func(*kinesis.Options)) (Out, error), toJSON func(Out) any) httpOp {
	return func(k *Kinesis, ctx context.Context, body []byte) (any, error) {
		in := new(In)
		if err := decode(body, in); err != nil {
			return nil, err
		}
		out, err := call(k, ctx, in)
		if err != nil {
			return nil, err
		}
		return toJSON(out), nil
	}
}

// noOutput is the JSON shape of an operation that answers with an empty object.
func noOutput[Out any](Out) any { return struct{}{} }

var httpOps map[string]httpOp

func init() {
	httpOps = map[string]httpOp{
		"CreateStream": op((*Kinesis).CreateStream, noOutput[*kinesis.CreateStreamOutput]),
		"DeleteStream": op((*Kinesis).DeleteStream, noOutput[*kinesis.DeleteStreamOutput]),
		"DescribeStream": op((*Kinesis).DescribeStream, func(out *kinesis.DescribeStreamOutput) any {
			d := out.StreamDescription
			shards := make([]jsonShard, len(d.Shards))
			for i, s := range d.Shards {
				shards[i] = toJSONShard(s)
			}
			return map[string]any{"StreamDescription": jsonStreamDescription{
				StreamName: d.StreamName, StreamARN: d.StreamARN, StreamStatus: d.StreamStatus,
				StreamModeDetails: d.StreamModeDetails, RetentionPeriodHours: d.RetentionPeriodHours,
				StreamCreationTimestamp: newEpoch(d.StreamCreationTimestamp), EncryptionType: d.EncryptionType,
				EnhancedMonitoring: d.EnhancedMonitoring, HasMoreShards: d.HasMoreShards, Shards: shards,
			}}
		}),
		"DescribeStreamSummary": op((*Kinesis).DescribeStreamSummary, func(out *kinesis.DescribeStreamSummaryOutput) any {
			d := out.StreamDescriptionSummary
			return map[string]any{"StreamDescriptionSummary": jsonStreamSummary{
				StreamName: d.StreamName, StreamARN: d.StreamARN, StreamId: d.StreamId, StreamStatus: d.StreamStatus,
				StreamModeDetails: d.StreamModeDetails, RetentionPeriodHours: d.RetentionPeriodHours,
				StreamCreationTimestamp: newEpoch(d.StreamCreationTimestamp), EncryptionType: d.EncryptionType,
				EnhancedMonitoring: d.EnhancedMonitoring, OpenShardCount: d.OpenShardCount,
				ConsumerCount: d.ConsumerCount, MaxRecordSizeInKiB: d.MaxRecordSizeInKiB,
			}}
		}),
		"ListStreams": op((*Kinesis).ListStreams, func(out *kinesis.ListStreamsOutput) any {
			sums := make([]jsonStreamSummaryItem, len(out.StreamSummaries))
			for i, s := range out.StreamSummaries {
				sums[i] = jsonStreamSummaryItem{StreamName: s.StreamName, StreamARN: s.StreamARN, StreamStatus: s.StreamStatus,
					StreamModeDetails: s.StreamModeDetails, StreamCreationTimestamp: newEpoch(s.StreamCreationTimestamp)}
			}
			return struct {
				StreamNames     []string
				HasMoreStreams  *bool
				NextToken       *string `json:",omitempty"`
				StreamSummaries []jsonStreamSummaryItem
			}{out.StreamNames, out.HasMoreStreams, out.NextToken, sums}
		}),
		"ListShards": func(k *Kinesis, ctx context.Context, body []byte) (any, error) {
			var in struct {
				kinesis.ListShardsInput
				ShardFilter *struct {
					Type      types.ShardFilterType
					ShardId   *string
					Timestamp *epoch
				}
				StreamCreationTimestamp *epoch
			}
			if err := decode(body, &in); err != nil {
				return nil, err
			}
			if f := in.ShardFilter; f != nil {
				in.ListShardsInput.ShardFilter = &types.ShardFilter{Type: f.Type, ShardId: f.ShardId, Timestamp: f.Timestamp.ptr()}
			}
			in.ListShardsInput.StreamCreationTimestamp = in.StreamCreationTimestamp.ptr()
			out, err := k.ListShards(ctx, &in.ListShardsInput)
			if err != nil {
				return nil, err
			}
			shards := make([]jsonShard, len(out.Shards))
			for i, s := range out.Shards {
				shards[i] = toJSONShard(s)
			}
			return struct {
				Shards    []jsonShard
				NextToken *string `json:",omitempty"`
			}{shards, out.NextToken}, nil
		},
		"PutRecord": op((*Kinesis).PutRecord, func(out *kinesis.PutRecordOutput) any {
			return struct {
				SequenceNumber, ShardId *string
				EncryptionType          types.EncryptionType
			}{out.SequenceNumber, out.ShardId, out.EncryptionType}
		}),
		"PutRecords": op((*Kinesis).PutRecords, func(out *kinesis.PutRecordsOutput) any {
			type entry struct {
				SequenceNumber *string `json:",omitempty"`
				ShardId        *string `json:",omitempty"`
				ErrorCode      *string `json:",omitempty"`
				ErrorMessage   *string `json:",omitempty"`
			}
			recs := make([]entry, len(out.Records))
			for i, r := range out.Records {
				recs[i] = entry{r.SequenceNumber, r.ShardId, r.ErrorCode, r.ErrorMessage}
			}
			return struct {
				FailedRecordCount *int32
				Records           []entry
				EncryptionType    types.EncryptionType
			}{out.FailedRecordCount, recs, out.EncryptionType}
		}),
		"GetShardIterator": func(k *Kinesis, ctx context.Context, body []byte) (any, error) {
			var in struct {
				kinesis.GetShardIteratorInput
				Timestamp *epoch
			}
			if err := decode(body, &in); err != nil {
				return nil, err
			}
			in.GetShardIteratorInput.Timestamp = in.Timestamp.ptr()
			out, err := k.GetShardIterator(ctx, &in.GetShardIteratorInput)
			if err != nil {
				return nil, err
			}
			return struct{ ShardIterator *string }{out.ShardIterator}, nil
		},
		"GetRecords": op((*Kinesis).GetRecords, func(out *kinesis.GetRecordsOutput) any {
			return struct {
				Records            []jsonRecord
				NextShardIterator  *string `json:",omitempty"`
				MillisBehindLatest *int64
				ChildShards        []jsonChild `json:",omitempty"`
			}{toJSONRecords(out.Records), out.NextShardIterator, out.MillisBehindLatest, toJSONChildren(out.ChildShards)}
		}),
		"IncreaseStreamRetentionPeriod": op((*Kinesis).IncreaseStreamRetentionPeriod, noOutput[*kinesis.IncreaseStreamRetentionPeriodOutput]),
		"DecreaseStreamRetentionPeriod": op((*Kinesis).DecreaseStreamRetentionPeriod, noOutput[*kinesis.DecreaseStreamRetentionPeriodOutput]),
		"RegisterStreamConsumer": op((*Kinesis).RegisterStreamConsumer, func(out *kinesis.RegisterStreamConsumerOutput) any {
			return struct{ Consumer jsonConsumer }{toJSONConsumer(*out.Consumer)}
		}),
		"DescribeStreamConsumer": op((*Kinesis).DescribeStreamConsumer, func(out *kinesis.DescribeStreamConsumerOutput) any {
			d := out.ConsumerDescription
			return struct {
				ConsumerDescription struct {
					jsonConsumer
					StreamARN *string
				}
			}{struct {
				jsonConsumer
				StreamARN *string
			}{toJSONConsumer(types.Consumer{ConsumerName: d.ConsumerName, ConsumerARN: d.ConsumerARN,
				ConsumerStatus: d.ConsumerStatus, ConsumerCreationTimestamp: d.ConsumerCreationTimestamp}), d.StreamARN}}
		}),
		"ListStreamConsumers": op((*Kinesis).ListStreamConsumers, func(out *kinesis.ListStreamConsumersOutput) any {
			cs := make([]jsonConsumer, len(out.Consumers))
			for i, c := range out.Consumers {
				cs[i] = toJSONConsumer(c)
			}
			return struct {
				Consumers []jsonConsumer
				NextToken *string `json:",omitempty"`
			}{cs, out.NextToken}
		}),
		"DeregisterStreamConsumer": op((*Kinesis).DeregisterStreamConsumer, noOutput[*kinesis.DeregisterStreamConsumerOutput]),
		"SplitShard":               op((*Kinesis).SplitShard, noOutput[*kinesis.SplitShardOutput]),
		"MergeShards":              op((*Kinesis).MergeShards, noOutput[*kinesis.MergeShardsOutput]),
		"UpdateShardCount": op((*Kinesis).UpdateShardCount, func(out *kinesis.UpdateShardCountOutput) any {
			return struct {
				CurrentShardCount, TargetShardCount *int32
				StreamName, StreamARN               *string
			}{out.CurrentShardCount, out.TargetShardCount, out.StreamName, out.StreamARN}
		}),
	}
}

type jsonShard struct {
	ShardId               *string
	ParentShardId         *string `json:",omitempty"`
	AdjacentParentShardId *string `json:",omitempty"`
	HashKeyRange          *types.HashKeyRange
	SequenceNumberRange   *jsonSeqRange
}

type jsonSeqRange struct {
	StartingSequenceNumber *string
	EndingSequenceNumber   *string `json:",omitempty"`
}

func toJSONShard(s types.Shard) jsonShard {
	return jsonShard{
		ShardId: s.ShardId, ParentShardId: s.ParentShardId, AdjacentParentShardId: s.AdjacentParentShardId,
		HashKeyRange: s.HashKeyRange,
		SequenceNumberRange: &jsonSeqRange{
			StartingSequenceNumber: s.SequenceNumberRange.StartingSequenceNumber,
			EndingSequenceNumber:   s.SequenceNumberRange.EndingSequenceNumber,
		},
	}
}

type jsonStreamDescription struct {
	StreamName, StreamARN   *string
	StreamStatus            types.StreamStatus
	StreamModeDetails       *types.StreamModeDetails
	RetentionPeriodHours    *int32
	StreamCreationTimestamp *epoch
	EncryptionType          types.EncryptionType
	EnhancedMonitoring      []types.EnhancedMetrics
	HasMoreShards           *bool
	Shards                  []jsonShard
}

type jsonStreamSummary struct {
	StreamName, StreamARN, StreamId *string
	StreamStatus                    types.StreamStatus
	StreamModeDetails               *types.StreamModeDetails
	RetentionPeriodHours            *int32
	StreamCreationTimestamp         *epoch
	EncryptionType                  types.EncryptionType
	EnhancedMonitoring              []types.EnhancedMetrics
	OpenShardCount, ConsumerCount   *int32
	MaxRecordSizeInKiB              *int32
}

type jsonStreamSummaryItem struct {
	StreamName, StreamARN   *string
	StreamStatus            types.StreamStatus
	StreamModeDetails       *types.StreamModeDetails
	StreamCreationTimestamp *epoch
}

type jsonRecord struct {
	SequenceNumber              *string
	ApproximateArrivalTimestamp *epoch
	Data                        []byte
	PartitionKey                *string
	EncryptionType              types.EncryptionType `json:",omitempty"`
}

func toJSONRecords(rs []types.Record) []jsonRecord {
	out := make([]jsonRecord, len(rs))
	for i, r := range rs {
		out[i] = jsonRecord{r.SequenceNumber, newEpoch(r.ApproximateArrivalTimestamp), r.Data, r.PartitionKey, r.EncryptionType}
	}
	return out
}

type jsonChild struct {
	ShardId      *string
	ParentShards []string
	HashKeyRange *types.HashKeyRange
}

func toJSONChildren(cs []types.ChildShard) []jsonChild {
	var out []jsonChild
	for _, c := range cs {
		out = append(out, jsonChild{c.ShardId, c.ParentShards, c.HashKeyRange})
	}
	return out
}

type jsonConsumer struct {
	ConsumerName, ConsumerARN *string
	ConsumerStatus            types.ConsumerStatus
	ConsumerCreationTimestamp *epoch
}

func toJSONConsumer(c types.Consumer) jsonConsumer {
	return jsonConsumer{c.ConsumerName, c.ConsumerARN, c.ConsumerStatus, newEpoch(c.ConsumerCreationTimestamp)}
}
