package kinesistest

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// CreateStream creates a stream that is ACTIVE at once, with ShardCount shards
// whose hash key ranges split the key space evenly like AWS
// (shardId-000000000000, shardId-000000000001, ...). ShardCount is required in
// PROVISIONED mode; an ON_DEMAND stream without it gets 4 shards.
// MaxRecordSizeInKiB, when set, overrides Options.MaxRecordSize for the stream.
// Tags, warm throughput and the record distribution strategy are ignored.
func (k *Kinesis) CreateStream(ctx context.Context, in *kinesis.CreateStreamInput, _ ...func(*kinesis.Options)) (*kinesis.CreateStreamOutput, error) {
	return serve(k, ctx, OpCreateStream, in, func(*Call) (*kinesis.CreateStreamOutput, error) { return k.createStream(ctx, in) })
}

func (k *Kinesis) createStream(ctx context.Context, in *kinesis.CreateStreamInput) (*kinesis.CreateStreamOutput, error) {
	name := aws.ToString(in.StreamName)
	if err := validateName("streamName", name); err != nil {
		return nil, err
	}
	mode := types.StreamModeProvisioned
	if in.StreamModeDetails != nil && in.StreamModeDetails.StreamMode != "" {
		mode = in.StreamModeDetails.StreamMode
	}
	var n int
	switch {
	case in.ShardCount != nil:
		n = int(*in.ShardCount)
		if n < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1", n)
		}
	case mode == types.StreamModeOnDemand:
		n = DefaultOnDemandShardCount
	default:
		return nil, invalidArgument("ShardCount is required for a stream in PROVISIONED mode")
	}
	maxRec := k.opts.MaxRecordSize
	if in.MaxRecordSizeInKiB != nil {
		kib := int(*in.MaxRecordSizeInKiB)
		if kib < 1024 || kib > 10240 {
			return nil, validation("MaxRecordSizeInKiB must be between 1024 and 10240, got %d", kib)
		}
		maxRec = kib << 10
	}
	now := k.now()
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.streams[name]; ok {
		return nil, inUse("Stream %s under account %s already exists.", name, k.opts.AccountID)
	}
	k.nextUID++
	s := &stream{
		name:          name,
		arn:           fmt.Sprintf("arn:aws:kinesis:%s:%s:stream/%s", k.opts.Region, k.opts.AccountID, name),
		id:            fmt.Sprintf("fake-stream-%08d", k.nextUID),
		uid:           k.nextUID,
		created:       now,
		mode:          mode,
		maxRecordSize: maxRec,
		retention:     DefaultRetentionHours * time.Hour,
		consumers:     map[string]*streamConsumer{},
		changed:       make(chan struct{}),
	}
	for _, r := range evenRanges(n) {
		s.newShard(r, "", "", now)
	}
	s.resortOpen()
	k.streams[name] = s
	return &kinesis.CreateStreamOutput{}, nil
}

// validateName checks a stream or consumer name (member field) like AWS:
// 1 to 128 characters of [a-zA-Z0-9_.-].
func validateName(field, name string) error {
	if len(name) < 1 || len(name) > 128 {
		return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must have length between 1 and 128", name, field)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return validation("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", name, field)
		}
	}
	return nil
}

// DeleteStream deletes a stream at once. Iterators on it then fail with
// ResourceNotFoundException.
func (k *Kinesis) DeleteStream(ctx context.Context, in *kinesis.DeleteStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DeleteStreamOutput, error) {
	return serve(k, ctx, OpDeleteStream, in, func(*Call) (*kinesis.DeleteStreamOutput, error) { return k.deleteStream(ctx, in) })
}

func (k *Kinesis) deleteStream(ctx context.Context, in *kinesis.DeleteStreamInput) (*kinesis.DeleteStreamOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.streams[s.name] == s {
		delete(k.streams, s.name)
	}
	k.mu.Unlock()
	s.mu.Lock()
	s.deleted = true
	s.mu.Unlock()
	return &kinesis.DeleteStreamOutput{}, nil
}

// DescribeStream describes a stream and its shards (all of them, closed ones
// included), paged by Limit (default and maximum 100) and ExclusiveStartShardId.
func (k *Kinesis) DescribeStream(ctx context.Context, in *kinesis.DescribeStreamInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamOutput, error) {
	return serve(k, ctx, OpDescribeStream, in, func(*Call) (*kinesis.DescribeStreamOutput, error) { return k.describeStream(ctx, in) })
}

func (k *Kinesis) describeStream(ctx context.Context, in *kinesis.DescribeStreamInput) (*kinesis.DescribeStreamOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *in.Limit)
		}
		limit = min(int(*in.Limit), 100)
	}
	after := aws.ToString(in.ExclusiveStartShardId)
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := &types.StreamDescription{
		StreamName:              aws.String(s.name),
		StreamARN:               aws.String(s.arn),
		StreamStatus:            types.StreamStatusActive,
		StreamCreationTimestamp: aws.Time(s.created),
		RetentionPeriodHours:    s.retentionHours(),
		EncryptionType:          types.EncryptionTypeNone,
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		HasMoreShards:           aws.Bool(false),
	}
	for _, sh := range s.shards {
		if after != "" && sh.id <= after {
			continue
		}
		if len(d.Shards) == limit {
			d.HasMoreShards = aws.Bool(true)
			break
		}
		d.Shards = append(d.Shards, sh.toShard())
	}
	return &kinesis.DescribeStreamOutput{StreamDescription: d}, nil
}

// DescribeStreamSummary describes a stream without its shards.
func (k *Kinesis) DescribeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamSummaryOutput, error) {
	return serve(k, ctx, OpDescribeStreamSummary, in, func(*Call) (*kinesis.DescribeStreamSummaryOutput, error) { return k.describeStreamSummary(ctx, in) })
}

func (k *Kinesis) describeStreamSummary(ctx context.Context, in *kinesis.DescribeStreamSummaryInput) (*kinesis.DescribeStreamSummaryOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return &kinesis.DescribeStreamSummaryOutput{StreamDescriptionSummary: &types.StreamDescriptionSummary{
		StreamName:              aws.String(s.name),
		StreamARN:               aws.String(s.arn),
		StreamId:                aws.String(s.id),
		StreamStatus:            types.StreamStatusActive,
		StreamCreationTimestamp: aws.Time(s.created),
		RetentionPeriodHours:    s.retentionHours(),
		OpenShardCount:          aws.Int32(int32(len(s.open))),
		ConsumerCount:           aws.Int32(int32(len(s.consumers))),
		EncryptionType:          types.EncryptionTypeNone,
		StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		EnhancedMonitoring:      []types.EnhancedMetrics{{ShardLevelMetrics: []types.MetricsName{}}},
		MaxRecordSizeInKiB:      aws.Int32(int32(s.maxRecordSize >> 10)),
	}}, nil
}

// ListStreams lists stream names in lexical order, paged by Limit (default
// 100) and ExclusiveStartStreamName or NextToken.
func (k *Kinesis) ListStreams(ctx context.Context, in *kinesis.ListStreamsInput, _ ...func(*kinesis.Options)) (*kinesis.ListStreamsOutput, error) {
	return serve(k, ctx, OpListStreams, in, func(*Call) (*kinesis.ListStreamsOutput, error) { return k.listStreams(ctx, in) })
}

func (k *Kinesis) listStreams(ctx context.Context, in *kinesis.ListStreamsInput) (*kinesis.ListStreamsOutput, error) {
	limit := 100
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 10000 {
			return nil, validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *in.Limit)
		}
		limit = int(*in.Limit)
	}
	after := aws.ToString(in.ExclusiveStartStreamName)
	if t := aws.ToString(in.NextToken); t != "" {
		b, err := base64.RawURLEncoding.DecodeString(t)
		if err != nil {
			return nil, invalidArgument("invalid NextToken")
		}
		after = string(b)
	}
	k.mu.RLock()
	all := make([]*stream, 0, len(k.streams))
	for _, s := range k.streams {
		all = append(all, s)
	}
	k.mu.RUnlock()
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })
	out := &kinesis.ListStreamsOutput{HasMoreStreams: aws.Bool(false), StreamNames: []string{}}
	for _, s := range all {
		if after != "" && s.name <= after {
			continue
		}
		if len(out.StreamNames) == limit {
			out.HasMoreStreams = aws.Bool(true)
			out.NextToken = aws.String(base64.RawURLEncoding.EncodeToString([]byte(out.StreamNames[limit-1])))
			break
		}
		out.StreamNames = append(out.StreamNames, s.name)
		out.StreamSummaries = append(out.StreamSummaries, types.StreamSummary{
			StreamName:              aws.String(s.name),
			StreamARN:               aws.String(s.arn),
			StreamStatus:            types.StreamStatusActive,
			StreamCreationTimestamp: aws.Time(s.created),
			StreamModeDetails:       &types.StreamModeDetails{StreamMode: s.mode},
		})
	}
	return out, nil
}

// listShardsQuery is what a ListShards NextToken remembers.
type listShardsQuery struct {
	stream  string
	uid     uint64
	after   string // exclusive start shard ID
	filter  types.ShardFilterType
	fShard  string
	fTime   time.Time
	issued  time.Time
	hasTime bool
}

func (q listShardsQuery) encode() string {
	ts := ""
	if q.hasTime {
		ts = strconv.FormatInt(q.fTime.UnixNano(), 10)
	}
	return encodeToken("ls1", q.stream, strconv.FormatUint(q.uid, 10), q.after,
		string(q.filter), q.fShard, ts, strconv.FormatInt(q.issued.UnixNano(), 10))
}

func decodeListShardsToken(tok string) (listShardsQuery, bool) {
	f, ok := decodeToken(tok, "ls1", 8)
	if !ok {
		return listShardsQuery{}, false
	}
	uid, err1 := strconv.ParseUint(f[2], 10, 64)
	issued, err2 := strconv.ParseInt(f[7], 10, 64)
	if err1 != nil || err2 != nil {
		return listShardsQuery{}, false
	}
	q := listShardsQuery{stream: f[1], uid: uid, after: f[3], filter: types.ShardFilterType(f[4]),
		fShard: f[5], issued: time.Unix(0, issued)}
	if f[6] != "" {
		ts, err := strconv.ParseInt(f[6], 10, 64)
		if err != nil {
			return listShardsQuery{}, false
		}
		q.fTime, q.hasTime = time.Unix(0, ts), true
	}
	return q, true
}

// ListShards lists a stream's shards in shard ID order: by StreamName or
// StreamARN, or by a NextToken from a previous page (then StreamName and
// ExclusiveStartShardId must be absent, like AWS). MaxResults defaults to and
// is capped at 1000. NextToken is returned only when more shards follow and
// expires after Options.IteratorTTL. ShardFilter supports every type. The trim
// horizon is the stream's retention period ago (or its creation, if later):
// AT_TRIM_HORIZON returns the shards open then, FROM_TRIM_HORIZON those open
// then or later. Like AWS, a shard closed longer than the retention period ago
// is no longer listed.
func (k *Kinesis) ListShards(ctx context.Context, in *kinesis.ListShardsInput, _ ...func(*kinesis.Options)) (*kinesis.ListShardsOutput, error) {
	return serve(k, ctx, OpListShards, in, func(*Call) (*kinesis.ListShardsOutput, error) { return k.listShards(ctx, in) })
}

func (k *Kinesis) listShards(ctx context.Context, in *kinesis.ListShardsInput) (*kinesis.ListShardsOutput, error) {
	max := 1000
	if in.MaxResults != nil {
		if *in.MaxResults < 1 {
			return nil, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1", *in.MaxResults)
		}
		max = min(int(*in.MaxResults), 1000)
	}
	now := k.now()
	var q listShardsQuery
	var s *stream
	if tok := aws.ToString(in.NextToken); tok != "" {
		if in.StreamName != nil || in.ExclusiveStartShardId != nil || in.StreamCreationTimestamp != nil {
			return nil, invalidArgument("NextToken and StreamName/ExclusiveStartShardId/StreamCreationTimestamp cannot be provided together.")
		}
		var ok bool
		q, ok = decodeListShardsToken(tok)
		if !ok {
			return nil, invalidArgument("Invalid NextToken.")
		}
		if now.Sub(q.issued) > k.opts.IteratorTTL {
			return nil, expiredToken("The NextToken has expired.")
		}
		var err error
		if s, err = k.lookup(&q.stream, nil, nil); err != nil {
			return nil, err
		}
		if s.uid != q.uid {
			return nil, notFound("Stream %s under account %s not found.", q.stream, k.opts.AccountID)
		}
	} else {
		var err error
		if s, err = k.lookup(in.StreamName, in.StreamARN, in.StreamId); err != nil {
			return nil, err
		}
		q = listShardsQuery{stream: s.name, uid: s.uid, after: aws.ToString(in.ExclusiveStartShardId)}
		if f := in.ShardFilter; f != nil {
			q.filter = f.Type
			switch f.Type {
			case types.ShardFilterTypeAfterShardId:
				if f.ShardId == nil {
					return nil, invalidArgument("ShardId is required for the AFTER_SHARD_ID filter")
				}
				q.fShard = *f.ShardId
			case types.ShardFilterTypeAtTimestamp, types.ShardFilterTypeFromTimestamp:
				if f.Timestamp == nil {
					return nil, invalidArgument("Timestamp is required for the %s filter", f.Type)
				}
				q.fTime, q.hasTime = *f.Timestamp, true
			case types.ShardFilterTypeAtTrimHorizon, types.ShardFilterTypeFromTrimHorizon, types.ShardFilterTypeAtLatest:
			default:
				return nil, validation("1 validation error detected: Value '%s' at 'shardFilter.type' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SHARD_ID, AT_TRIM_HORIZON, FROM_TRIM_HORIZON, AT_LATEST, AT_TIMESTAMP, FROM_TIMESTAMP]", f.Type)
			}
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	th := s.trimHorizon(now)
	t := q.fTime
	if t.Before(th) {
		t = th
	}
	out := &kinesis.ListShardsOutput{Shards: []types.Shard{}}
	for _, sh := range s.shards {
		if q.after != "" && sh.id <= q.after || s.expired(sh, now) {
			continue
		}
		switch q.filter {
		case types.ShardFilterTypeAfterShardId:
			if sh.id <= q.fShard {
				continue
			}
		case types.ShardFilterTypeAtLatest:
			if sh.closed {
				continue
			}
		case types.ShardFilterTypeAtTrimHorizon:
			if sh.createdAt.After(th) || (sh.closed && !sh.closedAt.After(th)) ||
				th.Equal(s.created) && (sh.parent != "" || sh.adjParent != "") {
				continue
			}
		case types.ShardFilterTypeFromTrimHorizon:
			if sh.closed && !sh.closedAt.After(th) {
				continue
			}
		case types.ShardFilterTypeAtTimestamp:
			if sh.createdAt.After(t) || (sh.closed && !sh.closedAt.After(t)) {
				continue
			}
		case types.ShardFilterTypeFromTimestamp:
			if sh.closed && !sh.closedAt.After(t) {
				continue
			}
		}
		if len(out.Shards) == max {
			q.after = aws.ToString(out.Shards[max-1].ShardId)
			q.issued = now
			out.NextToken = aws.String(q.encode())
			break
		}
		out.Shards = append(out.Shards, sh.toShard())
	}
	return out, nil
}

// SplitShard closes ShardToSplit and opens two children: one with the hash
// keys below NewStartingHashKey and one with the rest, both with the split
// shard as ParentShardId. It takes effect at once.
func (k *Kinesis) SplitShard(ctx context.Context, in *kinesis.SplitShardInput, _ ...func(*kinesis.Options)) (*kinesis.SplitShardOutput, error) {
	return serve(k, ctx, OpSplitShard, in, func(*Call) (*kinesis.SplitShardOutput, error) { return k.splitShard(ctx, in) })
}

func (k *Kinesis) splitShard(ctx context.Context, in *kinesis.SplitShardInput) (*kinesis.SplitShardOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	at, err := aggregation.ParseHash128(aws.ToString(in.NewStartingHashKey))
	if err != nil {
		return nil, invalidArgument("NewStartingHashKey %q is not a valid hash key: %v", aws.ToString(in.NewStartingHashKey), err)
	}
	now := k.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	sh := s.shardByID(aws.ToString(in.ShardToSplit))
	if sh == nil {
		return nil, notFound("Could not find shard %s in stream %s under account %s.", aws.ToString(in.ShardToSplit), s.name, k.opts.AccountID)
	}
	if sh.closed {
		return nil, invalidArgument("Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", sh.id, s.name, k.opts.AccountID)
	}
	if at.Compare(sh.rng.Start) <= 0 || at.Compare(sh.rng.End) > 0 {
		return nil, invalidArgument("NewStartingHashKey %s used in SplitShard() on shard %s in stream %s under account %s is not both greater than one plus the shard's StartingHashKey %s and less than the shard's EndingHashKey %s.",
			at, sh.id, s.name, k.opts.AccountID, sh.rng.Start, sh.rng.End)
	}
	s.split(sh, at, now)
	s.resortOpen()
	return &kinesis.SplitShardOutput{}, nil
}

func (s *stream) split(sh *shard, at aggregation.Hash128, now time.Time) {
	s.closeShard(sh, now)
	s.newShard(aggregation.HashRange{Start: sh.rng.Start, End: prevKey(at)}, sh.id, "", now)
	s.newShard(aggregation.HashRange{Start: at, End: sh.rng.End}, sh.id, "", now)
}

// adjacent reports whether hash range b starts right after a ends.
func adjacent(a, b aggregation.HashRange) bool {
	return a.End != aggregation.MaxHashKey && nextKey(a.End) == b.Start
}

func (s *stream) merge(a, b *shard, now time.Time) *shard {
	s.closeShard(a, now)
	s.closeShard(b, now)
	lo, hi := a, b
	if b.rng.Start.Compare(a.rng.Start) < 0 {
		lo, hi = b, a
	}
	return s.newShard(aggregation.HashRange{Start: lo.rng.Start, End: hi.rng.End}, a.id, b.id, now)
}

// MergeShards closes ShardToMerge and AdjacentShardToMerge, whose hash key
// ranges must be adjacent, and opens one child covering both, with
// ParentShardId ShardToMerge and AdjacentParentShardId AdjacentShardToMerge.
// It takes effect at once.
func (k *Kinesis) MergeShards(ctx context.Context, in *kinesis.MergeShardsInput, _ ...func(*kinesis.Options)) (*kinesis.MergeShardsOutput, error) {
	return serve(k, ctx, OpMergeShards, in, func(*Call) (*kinesis.MergeShardsOutput, error) { return k.mergeShards(ctx, in) })
}

func (k *Kinesis) mergeShards(ctx context.Context, in *kinesis.MergeShardsInput) (*kinesis.MergeShardsOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	now := k.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	a := s.shardByID(aws.ToString(in.ShardToMerge))
	b := s.shardByID(aws.ToString(in.AdjacentShardToMerge))
	for i, sh := range []*shard{a, b} {
		if sh == nil {
			id := aws.ToString(in.ShardToMerge)
			if i == 1 {
				id = aws.ToString(in.AdjacentShardToMerge)
			}
			return nil, notFound("Could not find shard %s in stream %s under account %s.", id, s.name, k.opts.AccountID)
		}
		if sh.closed {
			return nil, invalidArgument("Shard %s in stream %s under account %s has already been merged or split, and thus is not eligible for merging or splitting.", sh.id, s.name, k.opts.AccountID)
		}
	}
	if !adjacent(a.rng, b.rng) && !adjacent(b.rng, a.rng) {
		return nil, invalidArgument("Shards %s and %s in stream %s under account %s are not an adjacent pair of shards eligible for merging", a.id, b.id, s.name, k.opts.AccountID)
	}
	s.merge(a, b, now)
	s.resortOpen()
	return &kinesis.MergeShardsOutput{}, nil
}

// UpdateShardCount reshards a stream to TargetShardCount open shards with
// even hash key ranges (UNIFORM_SCALING, the only scaling type). Like AWS it
// does so with splits and merges, which may leave short-lived intermediate
// shards: first every open shard that straddles a boundary of the target
// ranges is split there, then the open shards inside each target range are
// merged pairwise from left to right. Every new shard therefore has one parent
// (split) or two (merge) and an open shard whose range already equals a target
// range is kept. Like AWS it refuses (LimitExceededException) to more than
// double or to less than halve the open shard count.
func (k *Kinesis) UpdateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput, _ ...func(*kinesis.Options)) (*kinesis.UpdateShardCountOutput, error) {
	return serve(k, ctx, OpUpdateShardCount, in, func(*Call) (*kinesis.UpdateShardCountOutput, error) { return k.updateShardCount(ctx, in) })
}

func (k *Kinesis) updateShardCount(ctx context.Context, in *kinesis.UpdateShardCountInput) (*kinesis.UpdateShardCountOutput, error) {
	s, err := k.lookup(in.StreamName, in.StreamARN, in.StreamId)
	if err != nil {
		return nil, err
	}
	if in.ScalingType != types.ScalingTypeUniformScaling {
		return nil, validation("1 validation error detected: Value '%s' at 'scalingType' failed to satisfy constraint: Member must satisfy enum value set: [UNIFORM_SCALING]", in.ScalingType)
	}
	if in.TargetShardCount == nil || *in.TargetShardCount < 1 {
		return nil, validation("1 validation error detected: Value at 'targetShardCount' failed to satisfy constraint: Member must have value greater than or equal to 1")
	}
	target := int(*in.TargetShardCount)
	now := k.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted {
		return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
	}
	cur := len(s.open)
	if target > 2*cur {
		return nil, limitExceeded("UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
	}
	if 2*target < cur {
		return nil, limitExceeded("UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: %d Target shard count: %d", cur, target)
	}
	ranges := evenRanges(target)
	// Split at every target boundary that is inside an open shard.
	for _, r := range ranges[1:] {
		sh := s.route(r.Start)
		if sh.rng.Start != r.Start {
			s.split(sh, r.Start, now)
			s.resortOpen()
		}
	}
	// Merge the open shards inside each target range.
	for _, r := range ranges {
		for {
			sh := s.route(r.Start)
			if sh.rng.End == r.End {
				break
			}
			next := s.route(nextKey(sh.rng.End))
			s.merge(sh, next, now)
			s.resortOpen()
		}
	}
	return &kinesis.UpdateShardCountOutput{
		CurrentShardCount: aws.Int32(int32(cur)),
		TargetShardCount:  aws.Int32(int32(target)),
		StreamName:        aws.String(s.name),
		StreamARN:         aws.String(s.arn),
	}, nil
}

// Shards returns every shard of a stream, closed ones included, in shard ID
// order, or nil if there is no such stream.
func (k *Kinesis) Shards(streamName string) []types.Shard {
	k.mu.RLock()
	s := k.streams[streamName]
	k.mu.RUnlock()
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]types.Shard, len(s.shards))
	for i, sh := range s.shards {
		out[i] = sh.toShard()
	}
	return out
}

// Records returns every record stored in a shard, oldest first, or nil if there
// is no such stream or shard. The slice is a copy; the Data slices share the
// fake's storage and must not be modified.
func (k *Kinesis) Records(streamName, shardID string) []types.Record {
	k.mu.RLock()
	s := k.streams[streamName]
	k.mu.RUnlock()
	if s == nil {
		return nil
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	sh := s.shardByID(shardID)
	if sh == nil {
		return nil
	}
	return toRecords(sh, sh.firstLive(s.horizon(k.now())), sh.records.len())
}
