package producer

import (
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// parkedKrec is a Kinesis record written to another shard than predicted, waiting for
// the shard map to know that shard's hash key range.
type parkedKrec struct {
	k       *krec
	shardID string
	seqNum  string
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
