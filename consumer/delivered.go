package consumer

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

// deliveredWindow is how many Kinesis records delivered since the last checkpoint a
// shard remembers to validate CheckpointAt: as many as NewRecordFunc may hold unfinished
// ((2×MaxPrefetchBatches+2)×MaxRecords, 80,000 with the defaults), so that its
// low-watermark checkpoints never need Kinesis. About 90 bytes each (7 MB per shard with
// the defaults, reached only by a processor that does not checkpoint for that long, and
// small next to the batches a shard may hold).
func deliveredWindow(o *Options) int {
	return (2*o.MaxPrefetchBatches + 2) * int(o.MaxRecords)
}

// deliveredRun is a run of delivered user records of one Kinesis record: the
// subsequence numbers from..to (0..0 for a record that is not aggregated).
type deliveredRun struct {
	seq      string
	from, to int64
}

func (r *deliveredRun) end() checkpoint.ExtendedSequenceNumber {
	return checkpoint.ExtendedSequenceNumber{SequenceNumber: r.seq, SubSequenceNumber: r.to}
}

// deliveredLog remembers the records delivered on a lease since its last checkpoint, so
// that CheckpointAt accepts only positions of delivered records. A lease's batches are
// contiguous and in shard order, so the runs are sorted; at most max runs are kept (one
// per Kinesis record, more only where sub-records were filtered out by hash key), the
// oldest forgotten first. Guarded by shard.posMu.
type deliveredLog struct {
	runs      []deliveredRun
	forgotten checkpoint.ExtendedSequenceNumber // the last position forgotten to keep the bound; zero if none
	max       int
}

// add appends a delivered batch.
func (d *deliveredLog) add(records []Record) {
	for i := range records {
		r := &records[i]
		if n := len(d.runs); n > 0 && d.runs[n-1].seq == r.SequenceNumber && d.runs[n-1].to+1 == r.SubSequenceNumber {
			d.runs[n-1].to++
			continue
		}
		d.runs = append(d.runs, deliveredRun{seq: r.SequenceNumber, from: r.SubSequenceNumber, to: r.SubSequenceNumber})
	}
	if over := len(d.runs) - d.max; over > 0 {
		d.forgotten = d.runs[over-1].end()
		clear(d.runs[:over]) // release the strings
		d.runs = d.runs[over:]
	}
}

// trim forgets everything at or before pos, which was checkpointed.
func (d *deliveredLog) trim(pos checkpoint.ExtendedSequenceNumber) {
	if !d.forgotten.IsZero() && d.forgotten.Compare(pos) <= 0 {
		d.forgotten = checkpoint.ExtendedSequenceNumber{}
	}
	i := sort.Search(len(d.runs), func(i int) bool { return d.runs[i].end().Compare(pos) > 0 })
	clear(d.runs[:i])
	d.runs = d.runs[i:]
	if len(d.runs) > 0 && d.runs[0].seq == pos.SequenceNumber && d.runs[0].from <= pos.SubSequenceNumber {
		d.runs[0].from = pos.SubSequenceNumber + 1
	}
	if len(d.runs) == 0 {
		d.runs = nil // let the array go
	}
}

// deliveredStatus is what the log knows of a position.
type deliveredStatus int

const (
	notDelivered deliveredStatus = iota
	wasDelivered
	maybeDelivered // before the remembered runs: ask Kinesis
)

func (d *deliveredLog) status(pos checkpoint.ExtendedSequenceNumber) deliveredStatus {
	if !d.forgotten.IsZero() && pos.Compare(d.forgotten) <= 0 {
		return maybeDelivered
	}
	i := sort.Search(len(d.runs), func(i int) bool { return d.runs[i].end().Compare(pos) >= 0 })
	if i < len(d.runs) && d.runs[i].seq == pos.SequenceNumber && d.runs[i].from <= pos.SubSequenceNumber {
		return wasDelivered
	}
	return notDelivered
}

// recordDelivered notes a batch about to be passed to the processor.
func (s *shard) recordDelivered(records []Record) {
	last := records[len(records)-1]
	s.posMu.Lock()
	defer s.posMu.Unlock()
	s.delivered = checkpoint.ExtendedSequenceNumber{SequenceNumber: last.SequenceNumber, SubSequenceNumber: last.SubSequenceNumber}
	s.deliveredLog.add(records)
}

func (s *shard) deliveredStatus(pos checkpoint.ExtendedSequenceNumber) deliveredStatus {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return s.deliveredLog.status(pos)
}

func (s *shard) trimDelivered(pos checkpoint.ExtendedSequenceNumber) {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	s.deliveredLog.trim(pos)
}

// checkOnShard asks Kinesis whether pos names a record of this shard (a position too
// old for the delivered log): GetShardIterator AT_SEQUENCE_NUMBER refuses another shard's
// or stream's sequence number.
func (s *shard) checkOnShard(ctx context.Context, pos checkpoint.ExtendedSequenceNumber) error {
	_, err := s.w.c.client.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{
		StreamName:             aws.String(s.w.c.stream),
		ShardId:                aws.String(s.id),
		ShardIteratorType:      types.ShardIteratorTypeAtSequenceNumber,
		StartingSequenceNumber: aws.String(pos.SequenceNumber),
	})
	switch code := awserr.Code(err); {
	case err == nil:
		return nil
	case code == "InvalidArgumentException" || code == awserr.CodeResourceNotFound:
		return fmt.Errorf("%w: shard %s: %s is not a record of this shard: %w", ErrInvalidCheckpoint, s.id, pos, err)
	case code == awserr.CodeAccessDenied:
		return fmt.Errorf("consumer: checking that %s is a record of shard %s (CheckpointAt of a record delivered long ago): %w",
			pos, s.id, s.w.c.kinesisError("kinesis:GetShardIterator", err))
	}
	return fmt.Errorf("consumer: checking that %s is a record of shard %s (CheckpointAt of a record delivered long ago); nothing was written, try again: %w", pos, s.id, err)
}
