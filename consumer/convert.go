package consumer

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/checkpoint"
)

// aggregateMagic starts every KPL aggregated record.
var aggregateMagic = [4]byte{0xF3, 0x89, 0x9A, 0xC2}

func maybeAggregated(data []byte) bool {
	return len(data) > len(aggregateMagic)+16 && [4]byte(data[:4]) == aggregateMagic
}

// convert turns Kinesis records into user records: aggregated ones are deaggregated
// (subsequence number = index), sub-records whose hash key is outside the shard's range
// are dropped, and everything at or before skip (the checkpoint the shard resumed from)
// is dropped. One slice per batch.
func (s *shard) convert(in []types.Record, skip *checkpoint.ExtendedSequenceNumber) ([]Record, int) {
	// Deaggregate first so that the output is allocated once, at its exact size: growing
	// it aggregate by aggregate copied the records again and again.
	subsets := make([][]aggregation.UserRecord, len(in))
	total := 0
	for i := range in {
		total++
		if !maybeAggregated(in[i].Data) {
			continue
		}
		subs, err := aggregation.Deaggregate(in[i].Data)
		if err != nil {
			s.log.Warn("malformed aggregated record; delivering it as it is", "sequenceNumber", aws.ToString(in[i].SequenceNumber), "error", err)
			continue
		}
		subsets[i] = subs
		total += len(subs)
	}
	out := make([]Record, 0, total)
	bytes := 0
	for i := range in {
		kr := &in[i]
		seq := aws.ToString(kr.SequenceNumber)
		var minSub int64 // sub-records before this index were processed
		if !skip.IsZero() {
			switch (checkpoint.ExtendedSequenceNumber{SequenceNumber: seq}).Compare(checkpoint.ExtendedSequenceNumber{SequenceNumber: skip.SequenceNumber}) {
			case -1:
				continue
			case 0:
				minSub = skip.SubSequenceNumber + 1
			default:
				*skip = checkpoint.ExtendedSequenceNumber{}
			}
		}
		ts := aws.ToTime(kr.ApproximateArrivalTimestamp)
		plain := Record{
			PartitionKey:                aws.ToString(kr.PartitionKey),
			Data:                        kr.Data,
			SequenceNumber:              seq,
			ApproximateArrivalTimestamp: ts,
			ShardID:                     s.id,
		}
		if !maybeAggregated(kr.Data) {
			if minSub == 0 {
				out = append(out, plain)
				bytes += len(kr.Data)
			}
			continue
		}
		subs := subsets[i]
		if len(subs) == 0 || len(subs) == 1 && subs[0].PartitionKey == "" && subs[0].ExplicitHashKey == "" {
			// Not an aggregate after all (bad checksum) or malformed: one plain record.
			if minSub == 0 {
				out = append(out, plain)
				bytes += len(kr.Data)
			}
			continue
		}
		for j := range subs {
			if int64(j) < minSub {
				continue
			}
			u := &subs[j]
			if s.hashRange != nil && (u.PartitionKey != "" || u.ExplicitHashKey != "") {
				if h, err := u.HashKey(); err == nil && !s.hashRange.Contains(h) {
					continue
				}
			}
			out = append(out, Record{
				PartitionKey:                u.PartitionKey,
				ExplicitHashKey:             u.ExplicitHashKey,
				Data:                        u.Data,
				SequenceNumber:              seq,
				SubSequenceNumber:           int64(j),
				ApproximateArrivalTimestamp: ts,
				ShardID:                     s.id,
			})
			bytes += len(u.Data)
		}
	}
	return out, bytes
}
