package kinesistest

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// maxGetRecordsLimit is the largest Limit GetRecords accepts, also its default.
const maxGetRecordsLimit = 10000

// iterator is the decoded content of a shard iterator: read the records of
// shard idx whose counter is above after.
type iterator struct {
	stream string
	uid    uint64
	idx    int
	after  uint64
	issued time.Time
}

func (it iterator) encode() string {
	return encodeToken("it1", it.stream, strconv.FormatUint(it.uid, 10), strconv.Itoa(it.idx),
		strconv.FormatUint(it.after, 10), strconv.FormatInt(it.issued.UnixNano(), 10))
}

// encodeToken makes an opaque token (a shard iterator, a ListShards NextToken) of a kind
// tag and fields; decodeToken reverses it, checking the tag and the number of fields.
func encodeToken(fields ...string) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Join(fields, "\x00")))
}

func decodeToken(s, kind string, n int) ([]string, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, false
	}
	f := strings.Split(string(b), "\x00")
	if len(f) != n || f[0] != kind {
		return nil, false
	}
	return f, true
}

func decodeIterator(s string) (iterator, bool) {
	f, ok := decodeToken(s, "it1", 6)
	if !ok {
		return iterator{}, false
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 64)
	idx, err2 := strconv.Atoi(f[3])
	after, err3 := strconv.ParseUint(f[4], 10, 64)
	issued, err4 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || idx < 0 {
		return iterator{}, false
	}
	return iterator{stream: f[1], uid: uid, idx: idx, after: after, issued: time.Unix(0, issued)}, true
}

// GetShardIterator returns an opaque iterator for a shard, valid for
// Options.IteratorTTL on the Options.Now clock. All iterator types are supported.
// AT_SEQUENCE_NUMBER and AFTER_SEQUENCE_NUMBER need a sequence number of this
// shard (else *types.InvalidArgumentException, like AWS). AT_TIMESTAMP starts
// at the first record that arrived at or after Timestamp, or at the tip when
// none did yet. Iterators on closed shards work until the shard's end.
func (k *Kinesis) GetShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput, _ ...func(*kinesis.Options)) (*kinesis.GetShardIteratorOutput, error) {
	return serve(k, ctx, OpGetShardIterator, in, func(*Call) (*kinesis.GetShardIteratorOutput, error) { return k.getShardIterator(ctx, in) })
}

func (k *Kinesis) getShardIterator(ctx context.Context, in *kinesis.GetShardIteratorInput) (*kinesis.GetShardIteratorOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	now := k.now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	id := aws.ToString(in.ShardId)
	sh := s.shardByID(id)
	if sh == nil {
		return nil, notFound("Shard %s in stream %s under account %s does not exist", id, s.name, k.opts.AccountID)
	}
	after, err := k.startAfter(s, sh, in.ShardIteratorType, in.StartingSequenceNumber, in.Timestamp)
	if err != nil {
		return nil, err
	}
	it := iterator{stream: s.name, uid: s.uid, idx: sh.idx, issued: now, after: after}
	return &kinesis.GetShardIteratorOutput{ShardIterator: aws.String(it.encode())}, nil
}

// startAfter returns the counter after which a reader starting at position
// typ (a GetShardIterator type, or a SubscribeToShard StartingPosition type)
// reads sh. The caller holds s.mu.
func (k *Kinesis) startAfter(s *stream, sh *shard, typ types.ShardIteratorType, startSeq *string, ts *time.Time) (uint64, error) {
	var after uint64
	switch typ {
	case types.ShardIteratorTypeTrimHorizon:
		after = sh.startCount
	case types.ShardIteratorTypeLatest:
		after = sh.tip(s)
	case types.ShardIteratorTypeAtSequenceNumber, types.ShardIteratorTypeAfterSequenceNumber:
		seq := aws.ToString(startSeq)
		if seq == "" {
			return 0, invalidArgument("StartingSequenceNumber is required for ShardIteratorType %s", typ)
		}
		c, idx, ok := parseSeq(seq)
		if !ok {
			return 0, invalidArgument("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", seq, sh.id, s.name, k.opts.AccountID)
		}
		if idx != sh.idx {
			return 0, invalidArgument("Invalid StartingSequenceNumber. It encodes %s, while it was used in a call to a shard with %s", shardID(idx), sh.id)
		}
		if c < sh.startCount || (sh.closed && c > sh.endCount) {
			return 0, invalidArgument("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is outside the shard's sequence number range.", seq, sh.id, s.name, k.opts.AccountID)
		}
		after = c
		if typ == types.ShardIteratorTypeAtSequenceNumber {
			after = c - 1
		}
	case types.ShardIteratorTypeAtTimestamp:
		if ts == nil {
			return 0, invalidArgument("Timestamp is required for ShardIteratorType AT_TIMESTAMP")
		}
		i := sh.records.search(func(r *record) bool { return r.arrival >= ts.UnixNano() })
		if i < sh.records.len() {
			after = sh.records.at(i).counter - 1
		} else {
			after = sh.tip(s)
		}
	default:
		return 0, validation("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST, AT_TIMESTAMP]", typ)
	}
	return after, nil
}

// tip is the counter after which new records of sh will come.
func (sh *shard) tip(s *stream) uint64 {
	if sh.closed {
		return sh.endCount
	}
	return s.counter
}

// GetRecords returns up to Limit (default and maximum 10,000) records from an
// iterator's position, and at most Options.MaxGetRecordsSize bytes of data
// (but at least one record). MillisBehindLatest is 0 when the response reaches
// the shard's last record, else the age of the oldest record not returned. When
// the response reaches the end of a closed shard (also when it carries that
// shard's last records), NextShardIterator is nil and ChildShards lists the
// shards that replaced it, each with its ParentShards in shard ID order and its
// HashKeyRange, like AWS and kinesis-mock. An iterator older than Options.IteratorTTL fails with
// *types.ExpiredIteratorException; a malformed one with
// *types.InvalidArgumentException. Record Data shares the server's storage and
// must not be modified.
func (k *Kinesis) GetRecords(ctx context.Context, in *kinesis.GetRecordsInput, _ ...func(*kinesis.Options)) (*kinesis.GetRecordsOutput, error) {
	return serve(k, ctx, OpGetRecords, in, func(*Call) (*kinesis.GetRecordsOutput, error) { return k.getRecords(ctx, in) })
}

func (k *Kinesis) getRecords(ctx context.Context, in *kinesis.GetRecordsInput) (*kinesis.GetRecordsOutput, error) {
	limit := maxGetRecordsLimit
	if in.Limit != nil {
		if *in.Limit < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.Limit)
		}
		if *in.Limit > maxGetRecordsLimit {
			return nil, invalidArgument("Limit %d is greater than the maximum of %d", *in.Limit, maxGetRecordsLimit)
		}
		limit = int(*in.Limit)
	}
	raw := aws.ToString(in.ShardIterator)
	it, ok := decodeIterator(raw)
	if !ok {
		return nil, invalidArgument("Invalid ShardIterator.")
	}
	now := k.now()
	if now.Sub(it.issued) > k.opts.IteratorTTL {
		return nil, expiredIterator("Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of %d milliseconds.",
			it.issued.UTC().Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339Nano), k.opts.IteratorTTL.Milliseconds())
	}
	s, err := k.lookup(&it.stream, nil, nil)
	if err != nil {
		return nil, err
	}
	if s.uid != it.uid {
		return nil, notFound("Stream %s under account %s not found.", it.stream, k.opts.AccountID)
	}
	if lim := k.opts.Limits; lim != nil {
		s.mu.RLock()
		var sh *shard
		if it.idx < len(s.shards) {
			sh = s.shards[it.idx]
		}
		s.mu.RUnlock()
		if sh != nil && !sh.limiter.allowGet(lim, now) {
			k.throttled.Add(1)
			return nil, throughputExceeded("Rate exceeded for Shard - %s in stream %s under account %s.", sh.id, s.name, k.opts.AccountID)
		}
	}

	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	if it.idx >= len(s.shards) {
		return nil, invalidArgument("Invalid ShardIterator.")
	}
	sh := s.shards[it.idx]
	b := s.read(sh, it.after, limit, k.opts.MaxGetRecordsSize, now)
	out := &kinesis.GetRecordsOutput{Records: b.records, MillisBehindLatest: aws.Int64(b.behind)}
	if b.ended {
		out.ChildShards = s.children(sh)
	} else {
		it.after, it.issued = b.next, now
		out.NextShardIterator = aws.String(it.encode())
	}
	size := b.size
	if k.opts.Limits != nil {
		sh.limiter.chargeRead(size)
	}
	k.recsRead.Add(int64(len(b.records)))
	k.bytesRead.Add(int64(size))
	return out, nil
}

// batch is what a reader gets from one read of a shard.
type batch struct {
	records []types.Record
	size    int    // data bytes
	next    uint64 // counter to read after next time
	behind  int64  // MillisBehindLatest
	ended   bool   // the shard is closed and every record was read
}

// read returns up to limit records of sh after counter after, at most
// maxBytes of data (but at least one record), skipping records past
// retention. The caller holds s.mu.
func (s *stream) read(sh *shard, after uint64, limit, maxBytes int, now time.Time) batch {
	recs := &sh.records
	first := max(recs.search(func(r *record) bool { return r.counter > after }), sh.firstLive(s.horizon(now)))
	end, size := first, 0
	for end < recs.len() && end-first < limit {
		size += len(recs.at(end).data)
		if size > maxBytes && end > first {
			size -= len(recs.at(end).data)
			break
		}
		end++
	}
	b := batch{records: toRecords(sh, first, end), size: size, next: after}
	if end < recs.len() {
		b.behind = max(0, now.Sub(time.Unix(0, recs.at(end).arrival)).Milliseconds())
	}
	if end > first {
		b.next = recs.at(end - 1).counter
	}
	b.ended = sh.closed && end == recs.len()
	return b
}

// children lists the shards that replaced the closed shard sh.
func (s *stream) children(sh *shard) []types.ChildShard {
	var out []types.ChildShard
	for _, c := range s.shards[sh.idx+1:] {
		if c.parent != sh.id && c.adjParent != sh.id {
			continue
		}
		// Parents in shard ID order, as kinesis-mock lists them.
		parents := []string{c.parent}
		if c.adjParent != "" {
			parents = append(parents, c.adjParent)
			if c.adjParent < c.parent {
				parents[0], parents[1] = parents[1], parents[0]
			}
		}
		out = append(out, types.ChildShard{
			ShardId:      aws.String(c.id),
			ParentShards: parents,
			HashKeyRange: &types.HashKeyRange{
				StartingHashKey: aws.String(c.rng.Start.String()),
				EndingHashKey:   aws.String(c.rng.End.String()),
			},
		})
	}
	return out
}

// toRecords renders the records first..end-1 of sh as SDK records with few
// allocations. The caller holds the stream lock.
func toRecords(sh *shard, first, end int) []types.Record {
	n := end - first
	out := make([]types.Record, n)
	if n == 0 {
		return out
	}
	strs := make([]string, 2*n)
	times := make([]time.Time, n)
	buf := make([]byte, 0, n*seqLen)
	for i := first; i < end; i++ {
		buf = appendSeq(buf, sh.records.at(i).counter, sh.seqSuffix)
	}
	seqs := bytesToString(buf)
	for i := range n {
		r := sh.records.at(first + i)
		strs[i] = seqs[i*seqLen : (i+1)*seqLen]
		strs[n+i] = r.pk
		times[i] = time.Unix(0, r.arrival).UTC()
		out[i] = types.Record{
			Data:                        r.data,
			SequenceNumber:              &strs[i],
			PartitionKey:                &strs[n+i],
			ApproximateArrivalTimestamp: &times[i],
			EncryptionType:              types.EncryptionTypeNone,
		}
	}
	return out
}
