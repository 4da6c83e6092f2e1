package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

// minReadInterval keeps a shard's reader within the service limit of 5 GetRecords calls
// per second per shard.
const minReadInterval = 200 * time.Millisecond

// retryBase is the first backoff delay after a failed read.
const retryBase = 200 * time.Millisecond

// batch is one GetRecords result, ready for the processor.
type batch struct {
	records      []Record
	bytes        int
	millisBehind int64
	end          bool // the shard is closed and this was its last batch
	children     []types.ChildShard
}

// read polls the shard and sends batches to out (bounded: a slow processor blocks the
// reader, so at most cap(out)+2 results are held) until the shard ends or ctx ends.
// Each batch is one retrier.do: failed calls are retried with backoff, and a failed
// read gets a new iterator (after the last record read) unless it was throttled or
// denied.
func (s *shard) read(ctx context.Context, out chan<- batch) {
	var (
		iterator string
		lastRead string // sequence number of the last Kinesis record read
		lastCall time.Time
	)
	health := readHealth{s: s}
	skip := s.start // every (seq, subseq) <= skip was processed before
	if skip.IsSentinel() {
		skip = checkpoint.ExtendedSequenceNumber{}
	}
	limit := s.w.opts.MaxRecords
	maxBackoff := s.w.opts.MaxRetryBackoff
	r := retrier{
		base: retryBase, max: maxBackoff,
		permanent: func(err error) bool { return errors.Is(err, errShardGone) },
		delay: func(attempt int, err error) time.Duration {
			if awserr.Code(err) == awserr.CodeExpiredIterator && attempt <= 2 {
				return 0 // a new iterator at once
			}
			return awserr.Backoff(attempt, retryBase, maxBackoff)
		},
		onRetry: func(attempt int, delay time.Duration, err error) {
			if ie, ok := errors.AsType[iteratorError](err); ok {
				s.log.Warn("GetShardIterator failed; retrying", "attempt", attempt, "delay", delay, "error", ie.error)
			}
		},
	}
	for ctx.Err() == nil {
		var resp *kinesis.GetRecordsOutput
		err := r.do(ctx, func(attempt int) error {
			if iterator == "" {
				it, err := s.getIterator(ctx, lastRead)
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					health.failed("GetShardIterator", err)
					if awserr.IsNotFound(err) && s.gone(ctx) {
						s.log.Error("shard no longer exists (trimmed after the retention period before it was processed); ending it", "error", err)
						return errShardGone
					}
					return iteratorError{err}
				}
				iterator = it
			}
			if wait := time.Until(lastCall.Add(minReadInterval)); wait > 0 && !sleep(ctx, wait) {
				return ctx.Err()
			}
			lastCall = time.Now()
			var err error
			resp, err = s.w.c.client.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iterator), Limit: aws.Int32(limit)}, awserr.NoKinesisRetry)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				health.failed("GetRecords", err)
				s.readFailed(attempt, err, lastRead, &iterator)
				return err
			}
			health.succeeded()
			return nil
		})
		if errors.Is(err, errShardGone) {
			endGone(ctx, out)
			return
		}
		if err != nil {
			return // ctx ended
		}
		millis := aws.ToInt64(resp.MillisBehindLatest)
		s.w.m.millisBehind.Record(ctx, millis, s.attrs)
		b := batch{millisBehind: millis}
		if n := len(resp.Records); n > 0 {
			lastRead = aws.ToString(resp.Records[n-1].SequenceNumber)
			b.records, b.bytes = s.convert(resp.Records, &skip)
		}
		if resp.NextShardIterator == nil || *resp.NextShardIterator == "" {
			b.end, b.children = true, resp.ChildShards
		}
		if len(b.records) > 0 || b.end {
			select {
			case out <- b:
			case <-ctx.Done():
				return
			}
		}
		if b.end {
			return
		}
		iterator = *resp.NextShardIterator
		if len(resp.Records) == 0 && millis == 0 && !sleep(ctx, s.w.opts.IdleTimeBetweenReads) {
			return
		}
	}
}

// errShardGone ends a reader whose shard was trimmed before it was finished.
var errShardGone = errors.New("the shard no longer exists")

// endGone ends the shard of a reader that found it gone (errShardGone): its data was
// trimmed before it was finished, so an end without records lets its children start.
func endGone(ctx context.Context, out chan<- batch) {
	select {
	case out <- batch{end: true}:
	case <-ctx.Done():
	}
}

// iteratorError is a failed GetShardIterator call of read.
type iteratorError struct{ error }

func (e iteratorError) Unwrap() error { return e.error }

// readFailed logs a failed GetRecords call (attempt of the current batch) and drops the
// iterator unless the call was throttled or denied: server errors, invalid iterators
// (kinesis-mock answers those with HTTP 500) and network errors start again from a
// fresh iterator, after the last record read.
func (s *shard) readFailed(attempt int, err error, lastRead string, iterator *string) {
	code := awserr.Code(err)
	switch {
	case awserr.IsThrottle(err):
		s.log.Debug("GetRecords throttled; backing off", "attempt", attempt, "error", err)
	case code == awserr.CodeExpiredIterator:
		s.log.Info("shard iterator expired; getting a new one after the last record read", "after", lastRead)
		*iterator = ""
	case code == awserr.CodeAccessDenied:
		s.log.Error("GetRecords denied", "error", s.w.c.kinesisError("kinesis:GetRecords", err))
	default:
		s.log.Warn("GetRecords failed; retrying with a new iterator", "attempt", attempt, "error", err)
		*iterator = ""
	}
}

// getIterator returns an iterator after the last record read, or at the position the
// shard started from.
func (s *shard) getIterator(ctx context.Context, lastRead string) (string, error) {
	in := &kinesis.GetShardIteratorInput{StreamName: aws.String(s.w.c.stream), ShardId: aws.String(s.id)}
	switch {
	case lastRead != "":
		in.ShardIteratorType = types.ShardIteratorTypeAfterSequenceNumber
		in.StartingSequenceNumber = aws.String(lastRead)
	case s.start.SequenceNumber == checkpoint.TrimHorizon:
		in.ShardIteratorType = types.ShardIteratorTypeTrimHorizon
	case s.start.SequenceNumber == checkpoint.Latest:
		in.ShardIteratorType = types.ShardIteratorTypeLatest
	case s.start.SequenceNumber == checkpoint.AtTimestamp:
		in.ShardIteratorType = types.ShardIteratorTypeAtTimestamp
		in.Timestamp = aws.Time(s.w.opts.InitialTimestamp)
	default:
		in.ShardIteratorType = types.ShardIteratorTypeAtSequenceNumber
		in.StartingSequenceNumber = aws.String(s.start.SequenceNumber)
	}
	resp, err := s.w.c.client.GetShardIterator(ctx, in, awserr.NoKinesisRetry)
	if err != nil {
		if awserr.Code(err) == awserr.CodeAccessDenied {
			return "", s.w.c.kinesisError("kinesis:GetShardIterator", err)
		}
		return "", err
	}
	if resp.ShardIterator == nil || *resp.ShardIterator == "" {
		return "", errors.New("GetShardIterator returned no iterator")
	}
	return *resp.ShardIterator, nil
}

// gone reports whether the stream exists but no longer lists this shard.
func (s *shard) gone(ctx context.Context) bool {
	if _, err := s.w.c.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(s.w.c.stream)}); err != nil {
		return false
	}
	shards, err := s.w.listShards(ctx)
	if err != nil {
		return false
	}
	for _, sh := range shards {
		if sh.id == s.id {
			return false
		}
	}
	return true
}
