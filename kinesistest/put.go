package kinesistest

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// maxPutRecordsEntries is the most entries one PutRecords call may carry.
const maxPutRecordsEntries = 500

// PutRecord stores one record like PutRecords does. SequenceNumberForOrdering
// is accepted and ignored: sequence numbers always increase per shard.
func (k *Kinesis) PutRecord(ctx context.Context, in *kinesis.PutRecordInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordOutput, error) {
	return serve(k, ctx, OpPutRecord, in, func(*Call) (*kinesis.PutRecordOutput, error) { return k.putRecord(ctx, in) })
}

func (k *Kinesis) putRecord(ctx context.Context, in *kinesis.PutRecordInput) (*kinesis.PutRecordOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	entries := []types.PutRecordsRequestEntry{{Data: in.Data, PartitionKey: in.PartitionKey, ExplicitHashKey: in.ExplicitHashKey}}
	var hashes [1]aggregation.Hash128
	total, err := k.validateEntries(s, entries, hashes[:], "")
	if err != nil {
		return nil, err
	}
	if aws.ToBool(in.DryRun) {
		return &kinesis.PutRecordOutput{EncryptionType: types.EncryptionTypeNone}, nil
	}
	res, err := k.store(s, entries, hashes[:], nil, total)
	if err != nil {
		return nil, err
	}
	if res[0].ErrorCode != nil {
		return nil, throughputExceeded("%s", aws.ToString(res[0].ErrorMessage))
	}
	return &kinesis.PutRecordOutput{
		SequenceNumber: res[0].SequenceNumber,
		ShardId:        res[0].ShardId,
		EncryptionType: types.EncryptionTypeNone,
	}, nil
}

// PutRecords stores up to 500 records. Each goes to the open shard whose hash
// key range holds its ExplicitHashKey, or else the MD5 of its partition key read
// as a big-endian 128-bit integer. Like AWS it fails the whole call with a
// *types.ValidationException for no entries, more than 500, a partition key
// outside 1..256 characters, a malformed ExplicitHashKey or a record (data plus
// partition key) over the stream's max record size, and with a
// *types.InvalidArgumentException for an ExplicitHashKey above 2^128-1 or a call
// over Options.MaxPutRecordsSize. A PutRecordsHook can fail chosen entries.
func (k *Kinesis) PutRecords(ctx context.Context, in *kinesis.PutRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.PutRecordsOutput, error) {
	return serve(k, ctx, OpPutRecords, in, func(c *Call) (*kinesis.PutRecordsOutput, error) { return k.putRecords(ctx, in, c) })
}

func (k *Kinesis) putRecords(ctx context.Context, in *kinesis.PutRecordsInput, c *Call) (*kinesis.PutRecordsOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	n := len(in.Records)
	if n == 0 {
		return nil, validation("1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if n > maxPutRecordsEntries {
		return nil, validation("1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to 500 (got %d)", n)
	}
	var hashBuf [maxPutRecordsEntries]aggregation.Hash128
	hashes := hashBuf[:n]
	total, err := k.validateEntries(s, in.Records, hashes, "records.")
	if err != nil {
		return nil, err
	}
	if total > k.opts.MaxPutRecordsSize {
		return nil, invalidArgument("Records size exceeds %d bytes limit (got %d bytes of data and partition keys)", k.opts.MaxPutRecordsSize, total)
	}
	if aws.ToBool(in.DryRun) {
		return &kinesis.PutRecordsOutput{FailedRecordCount: aws.Int32(0), EncryptionType: types.EncryptionTypeNone}, nil
	}
	var failed map[int]string
	if c != nil {
		failed = c.failed
	}
	res, err := k.store(s, in.Records, hashes, failed, total)
	if err != nil {
		return nil, err
	}
	nf := 0
	for i := range res {
		if res[i].ErrorCode != nil {
			nf++
		}
	}
	return &kinesis.PutRecordsOutput{
		Records:           res,
		FailedRecordCount: aws.Int32(int32(nf)),
		EncryptionType:    types.EncryptionTypeNone,
	}, nil
}

// validateEntries checks entries like AWS and fills hashes with their hash
// keys. It returns the total size of data plus partition keys.
func (k *Kinesis) validateEntries(s *stream, entries []types.PutRecordsRequestEntry, hashes []aggregation.Hash128, field string) (int, error) {
	total := 0
	for i := range entries {
		e := &entries[i]
		pk := aws.ToString(e.PartitionKey)
		if e.PartitionKey == nil {
			return 0, validation("1 validation error detected: Value null at '%s%d.member.partitionKey' failed to satisfy constraint: Member must not be null", field, i+1)
		}
		if len(pk) == 0 || len(pk) > 256 && utf8.RuneCountInString(pk) > 256 {
			return 0, validation("1 validation error detected: Value '%s' at '%s%d.member.partitionKey' failed to satisfy constraint: Member must have length between 1 and 256", pk, field, i+1)
		}
		if e.Data == nil {
			// AWS requires the member; the SDK's own validation rejects nil too.
			return 0, validation("1 validation error detected: Value null at '%s%d.member.data' failed to satisfy constraint: Member must not be null", field, i+1)
		}
		size := len(e.Data) + len(pk)
		if size > s.maxRecordSize {
			return 0, validation("1 validation error detected: Value at '%s%d.member.data' failed to satisfy constraint: Member must have length less than or equal to %d (data %d bytes + partition key %d bytes)",
				field, i+1, s.maxRecordSize, len(e.Data), len(pk))
		}
		total += size
		if e.ExplicitHashKey != nil {
			h, err := aggregation.ParseHash128(*e.ExplicitHashKey)
			if err != nil {
				if matchesEHKPattern(*e.ExplicitHashKey) {
					return 0, invalidArgument("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *e.ExplicitHashKey)
				}
				return 0, validation("1 validation error detected: Value '%s' at '%s%d.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})", *e.ExplicitHashKey, field, i+1)
			}
			hashes[i] = h
		} else {
			hashes[i] = aggregation.HashKey(pk)
		}
	}
	return total, nil
}

// matchesEHKPattern reports whether s matches AWS's pattern 0|([1-9]\d{0,38}).
func matchesEHKPattern(s string) bool {
	if s == "0" {
		return true
	}
	if len(s) < 1 || len(s) > 39 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// store routes and appends validated entries. Entries failed by a control
// (failed) or refused by Options.Limits get their error code and are not
// stored.
func (k *Kinesis) store(s *stream, entries []types.PutRecordsRequestEntry, hashes []aggregation.Hash128, failed map[int]string, total int) ([]types.PutRecordsResultEntry, error) {
	n := len(entries)
	// Copy the data before taking the lock, in one allocation: callers may
	// reuse their buffers once the call returns, as with the real client.
	var datas [maxPutRecordsEntries][]byte
	if !k.opts.DiscardData {
		arena := make([]byte, 0, total)
		for i := range entries {
			if _, bad := failed[i]; bad {
				continue
			}
			start := len(arena)
			arena = append(arena, entries[i].Data...)
			datas[i] = arena[start:len(arena):len(arena)]
		}
	}
	res := make([]types.PutRecordsResultEntry, n)
	strs := make([]string, 2*n) // sequence numbers, then shard IDs
	seqBuf := make([]byte, 0, n*seqLen)
	var shards [maxPutRecordsEntries]*shard
	var throttled [maxPutRecordsEntries]bool
	now := k.now()
	ok, dataBytes, nThrottled := 0, 0, 0
	lim := k.opts.Limits

	s.mu.Lock()
	if s.deleted {
		s.mu.Unlock()
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	if now.Before(s.lastArrival) {
		now = s.lastArrival // keep arrival times monotonic per stream
	}
	s.lastArrival = now
	arrival := now.UnixNano()
	for i := range entries {
		sh := s.route(hashes[i])
		shards[i] = sh
		if _, bad := failed[i]; bad {
			continue
		}
		if lim != nil {
			sh.limiter.mu.Lock()
			sh.limiter.refill(lim, now)
			allowed := sh.limiter.allowPut(len(entries[i].Data) + len(*entries[i].PartitionKey))
			sh.limiter.mu.Unlock()
			if !allowed {
				throttled[i] = true
				nThrottled++
				continue
			}
		}
		s.counter++
		seqBuf = appendSeq(seqBuf, s.counter, sh.seqSuffix)
		ok++
		dataBytes += len(entries[i].Data)
		if k.opts.DiscardData {
			continue
		}
		sh.records.append(record{
			counter: s.counter,
			pk:      *entries[i].PartitionKey,
			data:    datas[i],
			arrival: arrival,
		})
	}
	if ok > 0 && !k.opts.DiscardData {
		s.trim(now)
		s.notify()
	}
	s.mu.Unlock()

	seqs := bytesToString(seqBuf)
	j := 0
	for i := range res {
		sh := shards[i]
		code, bad := failed[i]
		if throttled[i] {
			code, bad = codeThroughputExceeded, true
		}
		if bad {
			res[i].ErrorCode = aws.String(code)
			res[i].ErrorMessage = aws.String(entryErrorMessage(code, sh.id, s.name, k.opts.AccountID))
			continue
		}
		strs[i] = seqs[j*seqLen : (j+1)*seqLen]
		strs[n+i] = sh.id
		res[i].SequenceNumber = &strs[i]
		res[i].ShardId = &strs[n+i]
		j++
	}
	k.recsPut.Add(int64(ok))
	k.bytesPut.Add(int64(dataBytes))
	if nf := n - ok; nf > 0 {
		k.recsFail.Add(int64(nf))
	}
	if nThrottled > 0 {
		k.throttled.Add(int64(nThrottled))
	}
	return res, nil
}

// codeThroughputExceeded is the ErrorCode of a throttled PutRecords entry.
const codeThroughputExceeded = "ProvisionedThroughputExceededException"

func entryErrorMessage(code, shardID, stream, account string) string {
	switch code {
	case "ProvisionedThroughputExceededException":
		return fmt.Sprintf("Rate exceeded for shard %s in stream %s under account %s.", shardID, stream, account)
	case "InternalFailure":
		return "Internal service failure."
	case "KMSThrottlingException":
		return "Rate exceeded for KMS requests."
	}
	return fmt.Sprintf("%s (set by a kinesistest control)", code)
}
