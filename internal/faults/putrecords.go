package faults

import (
	"encoding/json"
	"fmt"
	"net/http"
)

type entryResult struct {
	SequenceNumber string `json:",omitempty"`
	ShardId        string `json:",omitempty"` //nolint:revive // AWS member name
	ErrorCode      string `json:",omitempty"`
	ErrorMessage   string `json:",omitempty"`
}

// putRecords decides every entry's fate before anything is forwarded: entries failed by
// an entry rule or by ShardLimits are left out of the request the emulator receives, and
// put back, failed, in their original position of the response.
func (i *Injector) putRecords(req *http.Request, c *Call) (*http.Response, error) {
	var body map[string]json.RawMessage
	var raws []json.RawMessage
	if json.Unmarshal(c.Body, &body) != nil || json.Unmarshal(body["Records"], &raws) != nil {
		// Not ours to judge: let the emulator reject it.
		resp, err := i.forward(req, c, c.Body)
		if err != nil {
			return nil, err
		}
		return i.postProcess(req, c, resp)
	}
	entries := make([]PutEntry, len(raws))
	var shards []ShardRange
	for k, raw := range raws {
		var r struct {
			Data                          []byte
			PartitionKey, ExplicitHashKey string
		}
		_ = json.Unmarshal(raw, &r)
		e := PutEntry{Index: k, PartitionKey: r.PartitionKey, ExplicitHashKey: r.ExplicitHashKey, DataLen: len(r.Data)}
		if h, ok := hashOf(r.PartitionKey, r.ExplicitHashKey); ok {
			if shards == nil {
				shards = i.shardMap(req, c)
			}
			e.Shard = lookup(shards, h)
		}
		entries[k] = e
	}

	failed := make([]*entryResult, len(entries))
	var hooks []hookCall
	i.mu.Lock()
	for k := range entries {
		e := &entries[k]
		for _, r := range i.rules {
			if r.Fault.kind != kindEntry || !r.matchesEntry(c, *e) || !i.take(r) {
				continue
			}
			i.injected[c.Op]++
			ec := *c
			ec.Shard = e.Shard
			failed[k] = &entryResult{ErrorCode: r.Fault.codeOf(&ec), ErrorMessage: r.Fault.messageOf(&ec)}
			if r.Hook != nil {
				hooks = append(hooks, hookCall{r.Hook, Hit{Call: c, Entry: e, Fault: r.Fault}})
			}
			break
		}
	}
	i.mu.Unlock()
	if i.limit != nil {
		var idx []int
		var sizes []putSize
		for k, e := range entries {
			if failed[k] == nil {
				idx = append(idx, k)
				sizes = append(sizes, putSize{shard: e.Shard, bytes: e.DataLen + len(e.PartitionKey)})
			}
		}
		for n, ok := range i.allowPut(c, sizes) {
			if !ok {
				ec := *c
				ec.Shard = entries[idx[n]].Shard
				failed[idx[n]] = &entryResult{ErrorCode: codePTE, ErrorMessage: pteMessage(&ec)}
			}
		}
	}
	for _, h := range hooks {
		h.hook(h.hit)
	}

	var keep []json.RawMessage
	for k, raw := range raws {
		if failed[k] == nil {
			keep = append(keep, raw)
		}
	}
	results := make([]json.RawMessage, len(raws))
	extra := map[string]json.RawMessage{}
	if len(keep) == len(raws) {
		resp, err := i.forward(req, c, c.Body)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == http.StatusOK {
			if b, err := readBody(resp); err == nil {
				i.checkRouting(c, entries, b)
			}
		}
		return resp, nil
	}
	if len(keep) > 0 {
		body["Records"], _ = json.Marshal(keep)
		fb, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("faults: re-encoding PutRecords: %w", err)
		}
		resp, err := i.forward(req, c, fb)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return resp, nil
		}
		b, err := readBody(resp)
		if err != nil {
			return nil, err
		}
		var out map[string]json.RawMessage
		var recs []json.RawMessage
		if json.Unmarshal(b, &out) != nil || json.Unmarshal(out["Records"], &recs) != nil || len(recs) != len(keep) {
			return nil, fmt.Errorf("faults: unexpected PutRecords response from the emulator: %.200s", b)
		}
		extra = out
		n := 0
		for k := range raws {
			if failed[k] == nil {
				results[k] = recs[n]
				n++
			}
		}
	}
	count := 0
	var forwarded []PutEntry
	for k := range raws {
		if failed[k] != nil {
			results[k], _ = json.Marshal(failed[k])
			count++
			continue
		}
		var r entryResult
		_ = json.Unmarshal(results[k], &r)
		if r.ErrorCode != "" {
			count++
		}
		forwarded = append(forwarded, entries[k])
	}
	if len(forwarded) > 0 {
		fr := make([]json.RawMessage, 0, len(forwarded))
		for k := range raws {
			if failed[k] == nil {
				fr = append(fr, results[k])
			}
		}
		i.checkRoutingResults(c, forwarded, fr)
	}
	extra["Records"], _ = json.Marshal(results)
	extra["FailedRecordCount"], _ = json.Marshal(count)
	if _, ok := extra["EncryptionType"]; !ok {
		extra["EncryptionType"] = json.RawMessage(`"NONE"`)
	}
	rb, err := json.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("faults: encoding PutRecords response: %w", err)
	}
	return jsonResponse(req, c, http.StatusOK, rb), nil
}

func (r *ruleState) matchesEntry(c *Call, e PutEntry) bool {
	return (r.Service == "" || r.Service == c.Service) &&
		(r.Op == "" || r.Op == c.Op) &&
		(r.Stream == "" || r.Stream == c.Stream) &&
		(r.Shard == "" || r.Shard == e.Shard) &&
		(r.Match == nil || r.Match(c)) &&
		(r.Entry == nil || r.Entry(e))
}

// checkRouting forgets the stream's shard map when the emulator put an entry on another
// shard than the map predicted (the stream was resharded behind the injector's back).
func (i *Injector) checkRouting(c *Call, entries []PutEntry, respBody []byte) {
	var out struct{ Records []json.RawMessage }
	if json.Unmarshal(respBody, &out) != nil || len(out.Records) != len(entries) {
		return
	}
	i.checkRoutingResults(c, entries, out.Records)
}

func (i *Injector) checkRoutingResults(c *Call, entries []PutEntry, results []json.RawMessage) {
	for k, e := range entries {
		var r entryResult
		if json.Unmarshal(results[k], &r) != nil {
			continue
		}
		if r.ShardId != "" && e.Shard != "" && r.ShardId != e.Shard {
			i.ForgetShards(c.Stream)
			return
		}
	}
}
