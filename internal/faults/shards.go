package faults

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/kinesis-go/kinesis/aggregation"
)

// ShardRange is an open shard and the hash keys it owns.
type ShardRange struct {
	// ShardID is the shard's id, e.g. "shardId-000000000000".
	ShardID string
	// Range is the shard's HashKeyRange, both ends included.
	Range aggregation.HashRange
}

// SetShards sets the shard map the injector routes stream's PutRecord(s) entries by,
// replacing what it learnt. Pass only the open shards.
func (i *Injector) SetShards(stream string, shards []ShardRange) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.shards[stream] = append([]ShardRange(nil), shards...)
}

// ForgetShards drops stream's shard map so that the next PutRecord(s) fetches it again.
// Call it after resharding the stream with a client that does not use this injector.
func (i *Injector) ForgetShards(stream string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.shards, stream)
}

// shardMap returns stream's open shards, fetching them with ListShards through the
// wrapped transport when unknown. It returns nil when they cannot be fetched.
func (i *Injector) shardMap(req *http.Request, c *Call) []ShardRange {
	if c.Stream == "" {
		return nil
	}
	i.mu.Lock()
	m, ok := i.shards[c.Stream]
	i.mu.Unlock()
	if ok {
		return m
	}
	m = i.fetchShards(req, c.Stream)
	if m != nil {
		i.mu.Lock()
		i.shards[c.Stream] = m
		i.mu.Unlock()
	}
	return m
}

// fetchShards lists stream's open shards with the incoming request's URL and headers
// (the emulators do not check signatures).
func (i *Injector) fetchShards(req *http.Request, stream string) []ShardRange {
	var out []ShardRange
	body, _ := json.Marshal(map[string]string{"StreamName": stream})
	for {
		lr := req.Clone(req.Context())
		lr.Header.Set("X-Amz-Target", "Kinesis_20131202.ListShards")
		lr.Header.Del("Content-Length")
		lr.Body = io.NopCloser(bytes.NewReader(body))
		lr.ContentLength = int64(len(body))
		b := body
		lr.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		resp, err := i.next.RoundTrip(lr)
		if err != nil {
			return nil
		}
		rb, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil
		}
		var page struct {
			NextToken string
			Shards    []struct {
				ShardId      string //nolint:revive // AWS member name
				HashKeyRange struct {
					StartingHashKey, EndingHashKey string
				}
				SequenceNumberRange struct {
					EndingSequenceNumber string
				}
			}
		}
		if json.Unmarshal(rb, &page) != nil {
			return nil
		}
		for _, s := range page.Shards {
			if s.SequenceNumberRange.EndingSequenceNumber != "" {
				continue // closed
			}
			r, err := aggregation.ParseHashRange(s.HashKeyRange.StartingHashKey, s.HashKeyRange.EndingHashKey)
			if err != nil {
				return nil
			}
			out = append(out, ShardRange{ShardID: s.ShardId, Range: r})
		}
		if page.NextToken == "" {
			return out
		}
		body, _ = json.Marshal(map[string]string{"NextToken": page.NextToken})
	}
}

// lookup returns the shard owning h, "" when none does.
func lookup(m []ShardRange, h aggregation.Hash128) string {
	for _, s := range m {
		if s.Range.Contains(h) {
			return s.ShardID
		}
	}
	return ""
}

// routeTo returns the shard a PutRecord call routes to.
func (i *Injector) routeTo(req *http.Request, c *Call, h aggregation.Hash128, ok bool) string {
	if !ok {
		return ""
	}
	return lookup(i.shardMap(req, c), h)
}

// hashOf is the hash key Kinesis routes an entry by.
func hashOf(partitionKey, explicitHashKey string) (aggregation.Hash128, bool) {
	if explicitHashKey != "" {
		h, err := aggregation.ParseHash128(explicitHashKey)
		return h, err == nil
	}
	return aggregation.HashKey(partitionKey), true
}

// partitionHash is the hash key of a PutRecord request body.
func partitionHash(body []byte) (aggregation.Hash128, bool) {
	var r struct{ PartitionKey, ExplicitHashKey string }
	if json.Unmarshal(body, &r) != nil {
		return aggregation.Hash128{}, false
	}
	return hashOf(r.PartitionKey, r.ExplicitHashKey)
}

// putRecordSize is the size Kinesis counts for a PutRecord: data plus partition key.
func putRecordSize(body []byte) int {
	var r struct {
		Data         []byte
		PartitionKey string
	}
	_ = json.Unmarshal(body, &r)
	return len(r.Data) + len(r.PartitionKey)
}
