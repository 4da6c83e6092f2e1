package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// shardInfo is what the shard syncer needs to know about a shard from ListShards.
type shardInfo struct {
	id       string
	parents  []string // ParentShardId and AdjacentParentShardId, when set
	open     bool     // no EndingSequenceNumber
	startKey string
	endKey   string
}

// listShards returns every shard of the stream that ListShards reports (open and closed
// ones still within the retention period), reading all pages. The SDK's retryer retries
// the calls; the syncer itself only tries again at its next interval.
func (w *worker) listShards(ctx context.Context) ([]shardInfo, error) {
	var out []shardInfo
	in := &kinesis.ListShardsInput{StreamName: aws.String(w.c.stream)}
	for {
		resp, err := w.c.client.ListShards(ctx, in)
		if err != nil {
			return nil, w.c.kinesisError("kinesis:ListShards", err)
		}
		for _, s := range resp.Shards {
			si := shardInfo{id: aws.ToString(s.ShardId)}
			for _, p := range []*string{s.ParentShardId, s.AdjacentParentShardId} {
				if p != nil && *p != "" {
					si.parents = append(si.parents, *p)
				}
			}
			si.open = s.SequenceNumberRange == nil || s.SequenceNumberRange.EndingSequenceNumber == nil
			if s.HashKeyRange != nil {
				si.startKey = aws.ToString(s.HashKeyRange.StartingHashKey)
				si.endKey = aws.ToString(s.HashKeyRange.EndingHashKey)
			}
			out = append(out, si)
		}
		if resp.NextToken == nil || *resp.NextToken == "" {
			return out, nil
		}
		in = &kinesis.ListShardsInput{NextToken: resp.NextToken}
	}
}

// planNewLeases returns the leases to create for shards that have none, parents before
// children (create them in this order: a child whose parent lease is absent counts its
// parent as finished).
//
// A shard without a lease gets one unless a descendant of it has a lease (then it was
// processed already, or deliberately skipped by an initial position of LATEST). Its
// position is childPos (TRIM_HORIZON, or AT_TIMESTAMP when that is the initial position)
// when one of its parents has or gets a lease: the parent's unprocessed data comes first,
// then all of the child's. Otherwise the shard has no processed relative: it gets the
// initial position, except that with LATEST closed shards get none (there is nothing
// after their latest record). On an empty table this gives, for TRIM_HORIZON and
// AT_TIMESTAMP, a lease for every retained shard, and for LATEST one for every open shard.
func planNewLeases(shards []shardInfo, leases []checkpoint.Lease, initial, childPos checkpoint.ExtendedSequenceNumber) []checkpoint.Lease {
	byID := make(map[string]*shardInfo, len(shards))
	for i := range shards {
		byID[shards[i].id] = &shards[i]
	}
	leased := make(map[string]bool, len(leases))
	children := make(map[string][]string)
	for _, l := range leases {
		leased[l.Key] = true
		for _, p := range l.ParentShardIDs {
			children[p] = append(children[p], l.Key)
		}
	}
	for _, s := range shards {
		for _, p := range s.parents {
			children[p] = append(children[p], s.id)
		}
	}

	// hasLeasedDescendant, memoised; the graph is a DAG (shards only have older parents).
	descMemo := make(map[string]bool)
	var hasLeasedDescendant func(id string) bool
	hasLeasedDescendant = func(id string) bool {
		if v, ok := descMemo[id]; ok {
			return v
		}
		descMemo[id] = false // guards against a malformed cycle
		found := false
		for _, c := range children[id] {
			if leased[c] || hasLeasedDescendant(c) {
				found = true
				break
			}
		}
		descMemo[id] = found
		return found
	}

	// Parents-first order by depth-first search over the listed parents.
	order := make([]string, 0, len(shards))
	visited := make(map[string]bool, len(shards))
	var visit func(id string)
	visit = func(id string) {
		if visited[id] {
			return
		}
		visited[id] = true
		s, ok := byID[id]
		if !ok {
			return
		}
		for _, p := range s.parents {
			visit(p)
		}
		order = append(order, id)
	}
	ids := make([]string, 0, len(shards))
	for _, s := range shards {
		ids = append(ids, s.id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		visit(id)
	}

	var out []checkpoint.Lease
	for _, id := range order {
		s := byID[id]
		if leased[id] || hasLeasedDescendant(id) {
			continue
		}
		parentLeased := false
		for _, p := range s.parents {
			if leased[p] {
				parentLeased = true
			}
		}
		var pos checkpoint.ExtendedSequenceNumber
		switch {
		case parentLeased:
			pos = childPos
		case initial.SequenceNumber == checkpoint.Latest && !s.open:
			continue
		default:
			pos = initial
		}
		leased[id] = true
		out = append(out, checkpoint.Lease{
			Key:             id,
			Checkpoint:      pos,
			ParentShardIDs:  slices.Clone(s.parents),
			StartingHashKey: s.startKey,
			EndingHashKey:   s.endKey,
		})
	}
	return out
}

// obsoleteLeases returns the keys of finished leases (SHARD_END) whose shard is no longer
// listed (trimmed) and whose children all have leases: nothing can need them again.
func obsoleteLeases(shards []shardInfo, leases []checkpoint.Lease) []string {
	listed := make(map[string]bool, len(shards))
	children := make(map[string][]string)
	for _, s := range shards {
		listed[s.id] = true
		for _, p := range s.parents {
			children[p] = append(children[p], s.id)
		}
	}
	leased := make(map[string]bool, len(leases))
	for _, l := range leases {
		leased[l.Key] = true
	}
	var out []string
	for _, l := range leases {
		if !l.Checkpoint.IsShardEnd() || listed[l.Key] {
			continue
		}
		done := true
		for _, c := range slices.Concat(l.ChildShardIDs, children[l.Key]) {
			if !leased[c] {
				done = false
			}
		}
		if done {
			out = append(out, l.Key)
		}
	}
	return out
}

// syncShards lists the shards and creates the leases that are missing, then deletes
// leases nothing can need any more.
func (w *worker) syncShards(ctx context.Context) error {
	shards, err := w.listShards(ctx)
	if err != nil {
		return err
	}
	leases, err := w.c.store.ListLeases(ctx)
	if err != nil {
		return fmt.Errorf("consumer: shard sync: listing leases: %w", err)
	}
	for _, l := range planNewLeases(shards, leases, w.initialPos, w.childPos) {
		_, err := w.c.store.CreateLease(ctx, l)
		switch {
		case err == nil:
			w.log.Info("lease created", "shard", l.Key, "checkpoint", l.Checkpoint.String(), "parents", l.ParentShardIDs)
		case errors.Is(err, checkpoint.ErrLeaseConflict):
			// Another worker created it meanwhile.
		default:
			// Stop: creating a child without its parent would let the child start first.
			return fmt.Errorf("consumer: shard sync: creating the lease of shard %s: %w", l.Key, err)
		}
	}
	for _, key := range obsoleteLeases(shards, leases) {
		if err := w.c.store.DeleteLease(ctx, key); err != nil {
			w.log.Warn("could not delete the lease of a finished shard that is no longer retained; will retry at the next shard sync",
				"shard", key, "error", err)
			continue
		}
		w.log.Info("lease deleted: shard finished and no longer retained", "shard", key)
	}
	return nil
}

// syncLoop runs the shard syncer every ShardSyncInterval and when asked to.
func (w *worker) syncLoop(ctx context.Context) {
	t := time.NewTicker(w.opts.ShardSyncInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.syncNow:
		}
		if err := w.syncShards(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("shard sync failed; will retry at the next interval", "error", err)
		}
	}
}
