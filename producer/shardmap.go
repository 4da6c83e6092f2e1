package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

// shardMap is the stream's open shards sorted by hash key range, looked up by binary
// search. It is immutable: a refresh builds a new one and swaps it in atomically, so
// Puts never wait for a refresh.
type shardMap struct {
	ends   []aggregation.Hash128 // ends[i] is shards[i].rng.End, ascending
	shards []*shard
	// buckets[b] is the range of indexes of the shards that can hold a hash key whose
	// top mapBucketBits bits are b: the binary search starts there. With evenly split
	// shards a bucket holds one shard, so a lookup is a table load and a comparison
	// instead of log2(shards) mispredicted branches (72 of the router's ~130 ns per
	// record at 64 shards).
	buckets [1 << mapBucketBits]bucketRange
}

// mapBucketBits is how many top bits of a hash key index shardMap.buckets.
const mapBucketBits = 10

type bucketRange struct{ lo, hi uint32 } // shards[lo..hi]

// newShardMap returns the map of shards, sorted by the ends of their ranges.
func newShardMap(ends []aggregation.Hash128, shards []*shard) *shardMap {
	m := &shardMap{ends: ends, shards: shards}
	for b := range m.buckets {
		first := aggregation.Hash128{Hi: uint64(b) << (64 - mapBucketBits)}
		last := aggregation.Hash128{Hi: first.Hi | (1<<(64-mapBucketBits) - 1), Lo: ^uint64(0)}
		m.buckets[b] = bucketRange{uint32(m.search(first, 0, len(ends))), uint32(m.search(last, 0, len(ends)))}
	}
	return m
}

// lookup returns the shard whose range holds h: the first shard whose range ends at
// or after h. A hash key beyond every range (the map has a gap, which a consistent
// AT_LATEST listing does not) goes to the last shard; Kinesis then reports where the
// record landed and the producer corrects itself.
func (m *shardMap) lookup(h aggregation.Hash128) *shard {
	r := m.buckets[h.Hi>>(64-mapBucketBits)]
	if r.lo == r.hi {
		return m.shards[r.lo]
	}
	return m.shards[m.search(h, int(r.lo), int(r.hi))]
}

// search returns the index in [lo, hi] of the first shard whose range ends at or
// after h, or the last shard when none does (see lookup).
func (m *shardMap) search(h aggregation.Hash128, lo, hi int) int {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		e := m.ends[mid]
		if e.Hi < h.Hi || (e.Hi == h.Hi && e.Lo < h.Lo) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(m.shards) {
		lo--
	}
	return lo
}

func (m *shardMap) has(s *shard) bool {
	i := m.index(s.rng.End)
	return i < len(m.shards) && m.shards[i] == s
}

func (m *shardMap) index(end aggregation.Hash128) int {
	i, _ := slices.BinarySearchFunc(m.ends, end, aggregation.Hash128.Compare)
	return i
}

// parkedKrec is a Kinesis record written to another shard than predicted, waiting for
// the shard map to know that shard's hash key range.
type parkedKrec struct {
	k       *krec
	shardID string
	seqNum  string
}

// requestRefresh asks the mapper to list the shards again soon; requests coalesce.
func (p *Producer) requestRefresh() {
	select {
	case p.refreshCh <- struct{}{}:
	default:
	}
}

// Shard map refresh pacing.
const (
	minRefreshGap   = 200 * time.Millisecond // between two refreshes
	loadBackoffMin  = 100 * time.Millisecond
	loadBackoffMax  = 5 * time.Second
	pendingCheckMax = time.Second // how late a pending record may expire
)

// runMapper loads the stream summary and the shard map, then refreshes the map when
// asked (wrong shard), periodically, and retries failed loads with backoff.
func (p *Producer) runMapper() {
	defer p.wg.Done()
	p.loadSummary()

	var periodic <-chan time.Time
	if p.opts.ShardMapRefreshInterval > 0 {
		t := time.NewTicker(p.opts.ShardMapRefreshInterval)
		defer t.Stop()
		periodic = t.C
	}
	failures := 0
	for {
		// Records parked before the listing starts are resolved with it: it is newer
		// than their writes, so it holds the shard they landed on.
		p.mapMu.Lock()
		parked := p.parked
		p.parked = nil
		p.mapMu.Unlock()

		err := p.refresh(p.runCtx, parked)
		if p.runCtx.Err() != nil {
			p.requeueParked(parked)
			return
		}
		var wait time.Duration
		if err != nil {
			failures++
			p.mapLog.note(1, classify(err).code, err)
			wait = awserr.Backoff(failures, loadBackoffMin, loadBackoffMax)
			if p.smap.Load() == nil {
				wait = min(wait, pendingCheckMax)
			}
			parked = p.expireParked(parked, err)
			if next := earliestExpiry(parked); next > 0 {
				wait = min(wait, time.Duration(max(next-p.now(), 0)))
			}
			p.requeueParked(parked)
			p.router.post(routerMsg{kind: msgMapError, err: err})
		} else {
			if failures > 0 {
				p.log.Info("kinesis producer: listed the shards after failed attempts", "failures", failures)
			}
			failures = 0
			wait = minRefreshGap
		}
		// Pace refreshes, then wait for a reason to refresh again.
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-p.stop:
			timer.Stop()
			return
		}
		if err != nil {
			continue
		}
		select {
		case <-p.refreshCh:
		case <-periodic:
		case <-p.stop:
			return
		}
	}
}

// loadSummary reads the stream's max record size and ARN. Failing that (no
// permission, say) it assumes 1 MiB, the size every stream accepts.
func (p *Producer) loadSummary() {
	defer close(p.summaryDone)
	p.maxRecord.Store(defaultMaxRecord)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		ctx, cancel := context.WithTimeout(p.runCtx, p.opts.RequestTimeout)
		var out *kinesis.DescribeStreamSummaryOutput
		out, err = p.client.DescribeStreamSummary(ctx, &kinesis.DescribeStreamSummaryInput{StreamName: aws.String(p.stream)}, awserr.NoKinesisRetry)
		err = callTimeout(p.runCtx, p.opts.RequestTimeout, err)
		cancel()
		if err == nil {
			if d := out.StreamDescriptionSummary; d != nil {
				if d.MaxRecordSizeInKiB != nil && *d.MaxRecordSizeInKiB > 0 {
					p.maxRecord.Store(int64(*d.MaxRecordSizeInKiB) << 10)
				}
				if d.StreamARN != nil {
					p.streamARN.Store(d.StreamARN)
				}
			}
			return
		}
		if !classify(err).retryable || p.runCtx.Err() != nil {
			break
		}
		if !sleepCtx(p.runCtx, awserr.Backoff(attempt, loadBackoffMin, time.Second)) {
			return
		}
	}
	if p.runCtx.Err() != nil {
		return
	}
	// Records up to 1 MiB are accepted without the summary, larger ones refused. Say
	// why the call failed first: with a wrong endpoint or no network every call fails
	// the same way, and the shard map load reports it too.
	err = describeFailure(err, "kinesis:DescribeStreamSummary", p.resource())
	c := classify(err)
	switch {
	case errors.Is(err, ErrStreamNotFound):
		p.log.Error("kinesis producer: the stream does not exist (DescribeStreamSummary); records will fail",
			"code", c.code, "error", err)
	case c.retryable:
		p.log.Warn("kinesis producer: cannot reach Kinesis: DescribeStreamSummary failed; "+
			"records will wait for the shard map until Kinesis answers, and records above 1 MiB are refused "+
			"(check the client's endpoint, region and network)", "code", c.code, "error", err)
	default:
		p.log.Warn("kinesis producer: DescribeStreamSummary failed; records above 1 MiB are refused "+
			"since the stream's max record size is unknown", "code", c.code, "error", err)
	}
}

// resource names the stream in error messages: its ARN when known.
func (p *Producer) resource() string {
	if arn := p.streamARN.Load(); arn != nil {
		return *arn
	}
	return "stream " + p.stream
}

// refresh lists the shards, swaps the new map in, routes the records waiting for a
// map and resolves the parked ones.
func (p *Producer) refresh(ctx context.Context, parked []parkedKrec) error {
	shards, err := p.listShards(ctx)
	if err != nil {
		return err
	}
	m, err := p.buildMap(shards)
	if err != nil {
		return err
	}
	p.router.post(routerMsg{kind: msgMap, m: m})
	p.mapMu.Lock()
	p.stats.refreshes++
	p.mapMu.Unlock()
	p.resolveParked(parked)
	return nil
}

func (p *Producer) listShards(ctx context.Context) ([]types.Shard, error) {
	in := &kinesis.ListShardsInput{
		StreamName:  aws.String(p.stream),
		ShardFilter: &types.ShardFilter{Type: types.ShardFilterTypeAtLatest},
		MaxResults:  aws.Int32(1000),
	}
	var shards []types.Shard
	for {
		cctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
		out, err := p.client.ListShards(cctx, in, awserr.NoKinesisRetry)
		err = callTimeout(ctx, p.opts.RequestTimeout, err)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("producer: listing the shards of %s: %w", p.stream, describeFailure(err, "kinesis:ListShards", p.resource()))
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1000)}
	}
}

// errNoShards is a listing without an open shard (a stream being deleted).
var errNoShards = errors.New("producer: the stream has no open shard")

func (p *Producer) buildMap(list []types.Shard) (*shardMap, error) {
	type entry struct {
		id  string
		rng aggregation.HashRange
	}
	entries := make([]entry, 0, len(list))
	for _, sh := range list {
		if sh.ShardId == nil || sh.HashKeyRange == nil || sh.HashKeyRange.StartingHashKey == nil || sh.HashKeyRange.EndingHashKey == nil {
			continue
		}
		if sh.SequenceNumberRange != nil && sh.SequenceNumberRange.EndingSequenceNumber != nil {
			continue // closed: AT_LATEST should not list it
		}
		rng, err := aggregation.ParseHashRange(*sh.HashKeyRange.StartingHashKey, *sh.HashKeyRange.EndingHashKey)
		if err != nil {
			p.log.Warn("kinesis producer: ignoring a shard with an invalid hash key range", "shard", *sh.ShardId, "error", err)
			continue
		}
		entries = append(entries, entry{*sh.ShardId, rng})
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: %s", errNoShards, p.stream)
	}
	slices.SortFunc(entries, func(a, b entry) int { return a.rng.End.Compare(b.rng.End) })

	ends, shards := make([]aggregation.Hash128, len(entries)), make([]*shard, len(entries))
	p.mapMu.Lock()
	for i, e := range entries {
		s := p.registry[e.id]
		if s == nil {
			s = &shard{id: e.id, rng: e.rng}
			p.disp.initShard(s)
			p.metrics.initShard(s)
			p.registry[e.id] = s
		}
		ends[i] = e.rng.End
		shards[i] = s
	}
	p.mapMu.Unlock()
	return newShardMap(ends, shards), nil
}

// wrongShard handles a Kinesis record that Kinesis wrote to shardID instead of the
// predicted shard (the map is stale: a reshard). A plain record is where Kinesis
// routes it, so it succeeded. The user records of an aggregate succeed when their hash
// key is in shardID's range; the others are put again (consumers drop them from the
// aggregate). The shard map is refreshed either way.
func (p *Producer) wrongShard(k *krec, shardID, seqNum string) {
	p.requestRefresh()
	if !k.aggregated {
		k.shardID, k.seqNum = shardID, seqNum
		p.complete(k)
		return
	}
	p.mapMu.Lock()
	s := p.registry[shardID]
	if s == nil && !p.aborting.Load() {
		p.parked = append(p.parked, parkedKrec{k, shardID, seqNum})
		p.mapMu.Unlock()
		return
	}
	p.mapMu.Unlock()
	if s == nil {
		p.fail(k, p.abortErr)
		return
	}
	p.splitWrongShard(k, s, seqNum)
}

// expireParked fails the parked records whose TTL has passed (the shard map could not
// be listed to learn where they landed) and returns the others. Such a record was
// written, but to a shard whose range is unknown: consumers may have dropped some of
// its user records, so none is reported as written.
func (p *Producer) expireParked(parked []parkedKrec, listErr error) []parkedKrec {
	now := p.now()
	keep := parked[:0]
	for _, pk := range parked {
		if pk.k.expiry > now {
			keep = append(keep, pk)
			continue
		}
		p.expire(pk.k, fmt.Errorf("producer: the record was written to shard %s, which the shard map does not hold, "+
			"and listing the shards to learn its hash key range failed (some of its user records may have been written): %w",
			pk.shardID, listErr))
	}
	clear(parked[len(keep):])
	return keep
}

// earliestExpiry returns the earliest TTL end of parked (0: none).
func earliestExpiry(parked []parkedKrec) int64 {
	var t int64
	for _, pk := range parked {
		if t == 0 || pk.k.expiry < t {
			t = pk.k.expiry
		}
	}
	return t
}

func (p *Producer) requeueParked(parked []parkedKrec) {
	if len(parked) == 0 {
		return
	}
	p.mapMu.Lock()
	if p.aborting.Load() {
		p.mapMu.Unlock()
		for _, pk := range parked {
			p.fail(pk.k, p.abortErr)
		}
		return
	}
	p.parked = append(parked, p.parked...)
	p.mapMu.Unlock()
}

func (p *Producer) resolveParked(parked []parkedKrec) {
	var all []types.Shard
	listed := false
	for _, pk := range parked {
		p.mapMu.Lock()
		s := p.registry[pk.shardID]
		p.mapMu.Unlock()
		if s == nil && !listed {
			// The shard closed again before the listing (resharded twice): look for
			// it among all the shards, closed ones included.
			listed = true
			var err error
			if all, err = p.listAllShards(p.runCtx); err != nil {
				p.log.Warn("kinesis producer: cannot list the closed shards", "error", err)
			}
		}
		if s == nil {
			for _, sh := range all {
				if aws.ToString(sh.ShardId) == pk.shardID && sh.HashKeyRange != nil {
					rng, err := aggregation.ParseHashRange(aws.ToString(sh.HashKeyRange.StartingHashKey), aws.ToString(sh.HashKeyRange.EndingHashKey))
					if err == nil {
						s = &shard{id: pk.shardID, rng: rng}
					}
				}
			}
		}
		if s == nil {
			// Its range is unknown: every user record is put again (some may then be
			// written twice).
			p.log.Warn("kinesis producer: a record landed on an unknown shard; putting its user records again",
				"shard", pk.shardID)
			s = &shard{id: pk.shardID}
			s.rng = aggregation.HashRange{Start: aggregation.MaxHashKey, End: aggregation.Hash128{}} // holds nothing
		}
		p.splitWrongShard(pk.k, s, pk.seqNum)
	}
}

// listAllShards lists every shard of the stream, closed ones included.
func (p *Producer) listAllShards(ctx context.Context) ([]types.Shard, error) {
	in := &kinesis.ListShardsInput{StreamName: aws.String(p.stream), MaxResults: aws.Int32(1000)}
	var shards []types.Shard
	for {
		cctx, cancel := context.WithTimeout(ctx, p.opts.RequestTimeout)
		out, err := p.client.ListShards(cctx, in, awserr.NoKinesisRetry)
		err = callTimeout(ctx, p.opts.RequestTimeout, err)
		cancel()
		if err != nil {
			return nil, err
		}
		shards = append(shards, out.Shards...)
		if out.NextToken == nil || *out.NextToken == "" {
			return shards, nil
		}
		in = &kinesis.ListShardsInput{NextToken: out.NextToken, MaxResults: aws.Int32(1000)}
	}
}

// splitWrongShard completes the user records of k that actual's range holds and puts
// the others again, keeping their attempts, arrival and TTL.
func (p *Producer) splitWrongShard(k *krec, actual *shard, seqNum string) {
	var ok *krec
	var again []urec
	for _, u := range k.recs {
		if actual.rng.Contains(u.hash) {
			if ok == nil {
				ok = p.getKrec()
				ok.recs = p.urecs.get(len(k.recs))
				ok.aggregated = true
				ok.shard = k.shard
				ok.attempts = k.attempts
				ok.shardID, ok.seqNum = actual.id, seqNum
			}
			ok.recs = append(ok.recs, u)
			continue
		}
		again = append(again, u)
	}
	if ok != nil {
		// The Kinesis record was written; only the user records in range count.
		var userBytes int64
		for _, u := range ok.recs {
			userBytes += int64(len(u.rec.Data))
		}
		ok.userBytes, ok.size = userBytes, k.size
		p.complete(ok)
	}
	if len(again) > 0 {
		// The attempt wrote them where consumers drop them: record it as a failure.
		attempts := slices.Clone(k.attempts)
		if n := len(attempts); n > 0 {
			attempts[n-1].ErrorCode = "WrongShard"
			attempts[n-1].ErrorMessage = fmt.Sprintf("written to shard %s, whose hash key range does not hold the record; put again", actual.id)
		}
		for i := range again {
			var prior []Attempt
			if again[i].prior != nil {
				prior = *again[i].prior
			}
			prior = append(prior[:len(prior):len(prior)], attempts...)
			again[i].prior = &prior
		}
		p.stats.reput.Add(int64(len(again)))
		p.log.Debug("kinesis producer: putting user records again after a wrong-shard write",
			"records", len(again), "shard", actual.id)
		p.router.post(routerMsg{kind: msgReroute, recs: again})
	}
	p.recycleKrec(k)
}

// errMapNotLoaded is the cause of records that expired before the first shard map
// load finished.
var errMapNotLoaded = errors.New("producer: the shard map is not loaded yet")

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
