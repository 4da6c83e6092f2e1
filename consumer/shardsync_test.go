package consumer

import (
	"slices"
	"strings"
	"testing"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// A stream that was split and merged:
//
//	s0 (closed) -> s2, s3 (split; s3 closed)
//	s1 (closed) -> s4 (open)    (s1 was split into s4 and s5)
//	               s5 (closed) + s3 -> s6 (open, merge)
//	s2 open
func reshardedStream() []shardInfo {
	return []shardInfo{
		{id: "s0"},
		{id: "s1"},
		{id: "s2", parents: []string{"s0"}, open: true},
		{id: "s3", parents: []string{"s0"}},
		{id: "s4", parents: []string{"s1"}, open: true},
		{id: "s5", parents: []string{"s1"}},
		{id: "s6", parents: []string{"s3", "s5"}, open: true},
	}
}

func keysAndPositions(ls []checkpoint.Lease) string {
	var parts []string
	for _, l := range ls {
		parts = append(parts, l.Key+"@"+l.Checkpoint.SequenceNumber)
	}
	return strings.Join(parts, " ")
}

func TestPlanNewLeasesOnAnEmptyTable(t *testing.T) {
	th, latest, at := checkpoint.PositionTrimHorizon, checkpoint.PositionLatest, checkpoint.PositionAtTimestamp
	for _, tc := range []struct {
		name          string
		initial, kids checkpoint.ExtendedSequenceNumber
		want          string
	}{
		// Every retained shard, parents first, the descendants at TRIM_HORIZON.
		{"trim horizon", th, th, "s0@TRIM_HORIZON s1@TRIM_HORIZON s2@TRIM_HORIZON s3@TRIM_HORIZON s4@TRIM_HORIZON s5@TRIM_HORIZON s6@TRIM_HORIZON"},
		{"at timestamp", at, at, "s0@AT_TIMESTAMP s1@AT_TIMESTAMP s2@AT_TIMESTAMP s3@AT_TIMESTAMP s4@AT_TIMESTAMP s5@AT_TIMESTAMP s6@AT_TIMESTAMP"},
		// Only the open shards.
		{"latest", latest, th, "s2@LATEST s4@LATEST s6@LATEST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := planNewLeases(reshardedStream(), nil, tc.initial, tc.kids)
			if s := keysAndPositions(got); s != tc.want {
				t.Errorf("got  %s\nwant %s", s, tc.want)
			}
			// Parents come before their children and are recorded on the lease.
			for i, l := range got {
				for _, p := range l.ParentShardIDs {
					if j := slices.IndexFunc(got, func(x checkpoint.Lease) bool { return x.Key == p }); j > i {
						t.Errorf("%s created before its parent %s", l.Key, p)
					}
				}
			}
			if i := slices.IndexFunc(got, func(x checkpoint.Lease) bool { return x.Key == "s6" }); i >= 0 && !slices.Equal(got[i].ParentShardIDs, []string{"s3", "s5"}) {
				t.Errorf("s6 parents %v", got[i].ParentShardIDs)
			}
		})
	}
}

func TestPlanNewLeasesForChildrenOfLeasedShards(t *testing.T) {
	// Started with LATEST on s0 and s1; then s0 was split and s1 split, then merged.
	leases := []checkpoint.Lease{
		{Key: "s0", Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "100"}},
		{Key: "s1", Checkpoint: checkpoint.PositionLatest},
	}
	got := planNewLeases(reshardedStream(), leases, checkpoint.PositionLatest, checkpoint.PositionTrimHorizon)
	// All descendants get TRIM_HORIZON: they hold data after their parents'.
	want := "s2@TRIM_HORIZON s3@TRIM_HORIZON s4@TRIM_HORIZON s5@TRIM_HORIZON s6@TRIM_HORIZON"
	if s := keysAndPositions(got); s != want {
		t.Errorf("got  %s\nwant %s", s, want)
	}
}

func TestPlanNewLeasesSkipsShardsWithLeasedDescendants(t *testing.T) {
	// s0's lease was deleted after its children got leases; s0 must not come back.
	leases := []checkpoint.Lease{
		{Key: "s2", Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "7"}, ParentShardIDs: []string{"s0"}},
		{Key: "s3", Checkpoint: checkpoint.PositionShardEnd, ParentShardIDs: []string{"s0"}},
		{Key: "s6", Checkpoint: checkpoint.PositionTrimHorizon, ParentShardIDs: []string{"s3", "s5"}},
	}
	got := planNewLeases(reshardedStream(), leases, checkpoint.PositionTrimHorizon, checkpoint.PositionTrimHorizon)
	// s0 and s1 and s5 have a leased descendant (s5 -> s6; s1 -> s5 -> s6); only s4 is
	// new, and it has no leased relative... but its parent s1 is skipped: it starts at the
	// initial position.
	if s := keysAndPositions(got); s != "s4@TRIM_HORIZON" {
		t.Errorf("got %s, want s4@TRIM_HORIZON", s)
	}
	if got := planNewLeases(reshardedStream(), leases, checkpoint.PositionLatest, checkpoint.PositionTrimHorizon); keysAndPositions(got) != "s4@LATEST" {
		t.Errorf("LATEST: got %s, want s4@LATEST", keysAndPositions(got))
	}
}

func TestPlanNewLeasesIsIdempotent(t *testing.T) {
	first := planNewLeases(reshardedStream(), nil, checkpoint.PositionTrimHorizon, checkpoint.PositionTrimHorizon)
	if again := planNewLeases(reshardedStream(), first, checkpoint.PositionTrimHorizon, checkpoint.PositionTrimHorizon); len(again) != 0 {
		t.Errorf("second sync creates %s", keysAndPositions(again))
	}
}

func TestObsoleteLeasesOnlyFinishedTrimmedOnes(t *testing.T) {
	shards := []shardInfo{{id: "s2", parents: []string{"s0"}, open: true}, {id: "s3", parents: []string{"s0"}, open: true}}
	leases := []checkpoint.Lease{
		{Key: "s0", Checkpoint: checkpoint.PositionShardEnd, ChildShardIDs: []string{"s2", "s3"}}, // trimmed, children leased
		{Key: "s1", Checkpoint: checkpoint.PositionShardEnd, ChildShardIDs: []string{"s9"}},       // trimmed, child s9 has no lease
		{Key: "s2", Checkpoint: checkpoint.PositionShardEnd},                                      // finished but still listed
		{Key: "s3", Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "4"}},
		{Key: "s8", Checkpoint: checkpoint.ExtendedSequenceNumber{SequenceNumber: "4"}}, // trimmed, unfinished: keep
	}
	if got := obsoleteLeases(shards, leases); !slices.Equal(got, []string{"s0"}) {
		t.Errorf("obsolete %v, want [s0]", got)
	}
}
