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

// listShards lists the stream's open shards (filter AT_LATEST) for the shard map.
func (p *Producer) listShards(ctx context.Context) ([]types.Shard, error) {
	shards, err := p.listShardsFiltered(ctx, &types.ShardFilter{Type: types.ShardFilterTypeAtLatest})
	if err != nil {
		return nil, fmt.Errorf("producer: listing the shards of %s: %w", p.stream, describeFailure(err, "kinesis:ListShards", p.resource()))
	}
	return shards, nil
}

// listAllShards lists every shard of the stream, closed ones included (a wrong-shard
// answer names a shard the map may no longer hold).
func (p *Producer) listAllShards(ctx context.Context) ([]types.Shard, error) {
	return p.listShardsFiltered(ctx, nil)
}

// listShardsFiltered pages through ListShards with filter (nil: every shard), each call
// bounded by RequestTimeout and not retried by the SDK.
func (p *Producer) listShardsFiltered(ctx context.Context, filter *types.ShardFilter) ([]types.Shard, error) {
	in := &kinesis.ListShardsInput{StreamName: aws.String(p.stream), ShardFilter: filter, MaxResults: aws.Int32(1000)}
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
