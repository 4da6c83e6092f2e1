package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// send makes one PutRecords call for b and sorts its records out: results for the
// written ones and the failed ones, retries back to the dispatcher.
func (p *Producer) send(b *batch) {
	defer p.wg.Done()
	entries := b.entries[:0]
	for _, k := range b.recs {
		e := types.PutRecordsRequestEntry{Data: k.data, PartitionKey: &k.pk}
		if k.ehk != "" {
			e.ExplicitHashKey = &k.ehk
		}
		entries = append(entries, e)
	}
	b.entries = entries
	b.input = kinesis.PutRecordsInput{Records: entries, StreamName: &p.stream}

	start := p.now()
	ctx, cancel := context.WithTimeout(p.runCtx, p.opts.RequestTimeout)
	out, err := p.client.PutRecords(ctx, &b.input, awserr.NoKinesisRetry, fastPutRecords)
	err = callTimeout(p.runCtx, p.opts.RequestTimeout, err)
	cancel()
	end := p.now()
	if err == nil && (out == nil || len(out.Records) != len(b.recs)) {
		n := 0
		if out != nil {
			n = len(out.Records)
		}
		err = fmt.Errorf("producer: PutRecords answered %d entries for %d records", n, len(b.recs))
	}
	p.metrics.request(b, time.Duration(end-start))

	r := sendResult{b: b, took: time.Duration(end - start), measured: err == nil || errors.Is(err, ErrRequestTimeout)}
	if err != nil {
		p.callFailed(b, err, start, end, &r)
	} else {
		p.handleEntries(b, out.Records, start, end, &r)
	}
	p.disp.postResult(r)
}

func (p *Producer) attempt(k *krec, start, end int64, c class) {
	if len(k.attempts) == 0 {
		p.metrics.buffered(k, time.Duration(start-k.oldest))
	}
	k.attempts = append(k.attempts, Attempt{
		Delay:        time.Duration(start - k.lastEnd),
		Duration:     time.Duration(end - start),
		ShardID:      k.shard.id,
		ErrorCode:    c.code,
		ErrorMessage: c.message,
		Ambiguous:    c.ambiguous,
	})
	k.lastEnd = end
}

// callFailed handles a call that failed as a whole.
func (p *Producer) callFailed(b *batch, err error, start, end int64, r *sendResult) {
	c := classify(err)
	aborting := p.aborting.Load()
	var failure error
	if !c.retryable || aborting {
		failure = describeFailure(err, "kinesis:PutRecords", p.resource())
		if aborting {
			failure = fmt.Errorf("%w (the call failed with: %w)", p.abortErr, err)
		}
	} else {
		p.retryLog.note(int64(len(b.recs)), c.code, err)
	}
	p.metrics.errorCode(c.code, nil, int64(len(b.recs)))
	for _, k := range b.recs {
		p.attempt(k, start, end, c)
		if failure != nil {
			p.fail(k, failure)
			continue
		}
		p.retryOrFail(k, err, c, end, r)
		if c.throttled && !slices.Contains(r.throttled, k.shard) {
			r.throttled = append(r.throttled, k.shard)
		}
	}
}

// handleEntries settles each record of a PutRecords call by its entry in the response:
// a success is delivered (or re-routed when Kinesis put it on another shard than
// predicted), a retryable error is retried or failed by retryOrFail, any other error
// fails the record.
func (p *Producer) handleEntries(b *batch, results []types.PutRecordsResultEntry, start, end int64, r *sendResult) {
	var failedCodes map[string]int
	for i := range results {
		e := &results[i]
		k := b.recs[i]
		if e.ErrorCode != nil && *e.ErrorCode != "" {
			err := &EntryError{Code: *e.ErrorCode, Message: deref(e.ErrorMessage)}
			c := classify(err)
			p.attempt(k, start, end, c)
			p.metrics.errorCode(c.code, k.shard, 1)
			if failedCodes == nil {
				failedCodes = make(map[string]int)
			}
			failedCodes[c.code]++
			if c.throttled && !slices.Contains(r.throttled, k.shard) {
				r.throttled = append(r.throttled, k.shard)
			}
			if !c.retryable {
				p.fail(k, describeFailure(err, "kinesis:PutRecords", p.resource()))
				continue
			}
			p.retryOrFail(k, err, c, end, r)
			continue
		}
		p.attempt(k, start, end, class{})
		if !slices.Contains(r.ok, k.shard) {
			r.ok = append(r.ok, k.shard)
		}
		shardID, seqNum := deref(e.ShardId), deref(e.SequenceNumber)
		if shardID != "" && shardID != k.shard.id {
			p.wrongShard(k, shardID, seqNum)
			continue
		}
		k.shardID, k.seqNum = k.shard.id, seqNum
		p.complete(k)
	}
	if failedCodes != nil {
		p.log.Debug("kinesis producer: PutRecords entries failed", "errors", failedCodes)
	}
	// A shard that both succeeded and got throttled is throttled.
	r.ok = slices.DeleteFunc(r.ok, func(s *shard) bool { return slices.Contains(r.throttled, s) })
}

// complete delivers k's success.
func (p *Producer) complete(k *krec) {
	s := k.shard
	s.stats.userRecordsPut.Add(int64(len(k.recs)))
	s.stats.userDataPut.Add(k.userBytes)
	s.stats.kinesisRecordsPut.Add(1)
	s.stats.kinesisDataPut.Add(int64(k.size))
	p.metrics.written(k)
	p.deliv.push(k)
}

func (p *Producer) recycleKrec(k *krec) {
	if k.buf != nil {
		p.putData(k.buf)
	}
	if cap(k.recs) > 1 {
		p.urecs.put(k.recs)
	}
	k.reset()
	p.krecs.put(k)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
