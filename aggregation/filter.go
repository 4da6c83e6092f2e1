package aggregation

import "iter"

// FilterHashRange yields the records of recs that belong to a shard with hash key
// range hr, each with its index in recs, which is its subsequence number (so
// checkpoints stay exact even though some indexes are skipped).
//
// Use it on the sub-records of an aggregate after a reshard: an aggregate written
// to a parent shard can hold records whose hash keys now belong elsewhere. The
// KCL drops such an aggregate whole; dropping only the out-of-range records loses
// nothing when they were also put to their own shard, as this module's producer
// does when a record lands on a shard other than the predicted one.
//
// A record is kept when its hash key (UserRecord.HashKey) is in hr, and also when
// it cannot be placed: a record with no keys at all (what Deaggregate returns for
// a record that is not aggregated, which Kinesis placed itself) or an invalid
// ExplicitHashKey. Delivering those is safer than dropping them silently.
func FilterHashRange(recs []UserRecord, hr HashRange) iter.Seq2[int, UserRecord] {
	return func(yield func(int, UserRecord) bool) {
		for i, r := range recs {
			if r.PartitionKey != "" || r.ExplicitHashKey != "" {
				if h, err := r.HashKey(); err == nil && !hr.Contains(h) {
					continue
				}
			}
			if !yield(i, r) {
				return
			}
		}
	}
}
