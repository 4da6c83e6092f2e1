package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Options configures New. The zero value is ready to use.
type Options struct {
	// Now is the clock of the ShardLimits token buckets. Default time.Now. Tests pass a
	// fake clock so that limits are deterministic; the limits refill only when it moves.
	Now func() time.Time
	// Seed seeds the generator that draws Rule.Probability. Default 0 (still a fixed,
	// reproducible sequence). Change it to explore other interleavings.
	Seed uint64
	// ShardLimits, when set, enforces the per-shard limits Kinesis has and kinesis-mock
	// lacks; see ShardLimits. Default nil: no limits.
	ShardLimits *ShardLimits
	// DisableSubscribeShim turns off the SubscribeToShard initial-response shim (see
	// SubscribeShim). Default false: the shim is on, which is what kinesis-mock needs.
	DisableSubscribeShim bool
}

// Injector is an http.RoundTripper that injects faults into the AWS JSON-protocol calls
// of Kinesis (X-Amz-Target "Kinesis_20131202.<Op>") and DynamoDB
// ("DynamoDB_20120810.<Op>") on their way to the emulators, then forwards to the wrapped
// RoundTripper. Other requests pass untouched. It is safe for concurrent use.
//
// For each call the rules are checked in the order they were added. Delay and observing
// (zero Fault) rules apply and the check goes on; the first matching Error,
// ConnectionReset or After rule decides the call. When none does, a PutRecords call's
// entries are checked against the entry-fault rules (first matching rule per entry) and
// then against ShardLimits; a GetRecords or PutRecord call against ShardLimits.
//
// Shards: PutRecord(s) entries are routed like Kinesis does (ExplicitHashKey, else the
// MD5 of the partition key) through the stream's shard map. The injector fetches that map
// itself with ListShards through the wrapped RoundTripper the first time it needs it
// (only while rules or limits are installed), forgets it after a SplitShard, MergeShards,
// UpdateShardCount or DeleteStream passing through it, or when the emulator routes an
// entry to another shard than predicted; SetShards overrides it. GetRecords carries only an
// iterator: its shard is known when the iterator came from a GetShardIterator or
// GetRecords response that passed through this injector (iterator lineage); otherwise
// Call.Shard and Call.Stream are "" and ShardLimits counts such calls against one shared
// bucket. The iterator map grows with every GetRecords of the injector's lifetime (one
// entry per call), which is fine for a test.
type Injector struct {
	next  http.RoundTripper
	now   func() time.Time
	limit *ShardLimits
	shim  bool

	mu        sync.Mutex
	rng       *rand.Rand
	rules     []*ruleState
	calls     map[string]int
	injected  map[string]int
	shards    map[string][]ShardRange // stream name -> open shards
	iterators map[string]shardKey     // iterator -> shard it reads
	buckets   map[shardKey]*shardBuckets
}

type ruleState struct {
	Rule
	applied int
}

type shardKey struct{ stream, shard string }

// New returns an Injector forwarding to next, or to a clone of http.DefaultTransport when
// next is nil.
func New(next http.RoundTripper, optFns ...func(*Options)) *Injector {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	i := &Injector{
		next:      next,
		now:       o.Now,
		shim:      !o.DisableSubscribeShim,
		rng:       rand.New(rand.NewPCG(o.Seed, 0x6b696e65736973)),
		calls:     map[string]int{},
		injected:  map[string]int{},
		shards:    map[string][]ShardRange{},
		iterators: map[string]shardKey{},
		buckets:   map[shardKey]*shardBuckets{},
	}
	if o.ShardLimits != nil {
		l := o.ShardLimits.resolved()
		i.limit = &l
	}
	return i
}

// HTTPClient returns an *http.Client using the injector, for
// `o.HTTPClient = inj.HTTPClient()` in kinesis.Options or dynamodb.Options.
func (i *Injector) HTTPClient() *http.Client { return &http.Client{Transport: i} }

// CloseIdleConnections closes the wrapped transport's idle connections (http.Client's
// CloseIdleConnections calls it). Call it at the end of a test so that no keep-alive
// goroutine outlives it.
func (i *Injector) CloseIdleConnections() {
	if c, ok := i.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Add appends a rule and returns a function that removes it again (idempotent).
func (i *Injector) Add(r Rule) (remove func()) {
	rs := &ruleState{Rule: r}
	i.mu.Lock()
	i.rules = append(i.rules, rs)
	i.mu.Unlock()
	return func() {
		i.mu.Lock()
		defer i.mu.Unlock()
		for k, x := range i.rules {
			if x == rs {
				i.rules = append(i.rules[:k:k], i.rules[k+1:]...)
				return
			}
		}
	}
}

// Calls returns how many requests for operation op (e.g. "PutRecords") reached the
// injector, faulted or not; each SDK retry attempt counts.
func (i *Injector) Calls(op string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.calls[op]
}

// Injected returns how many faults were injected into operation op: whole-call faults,
// delays, failed PutRecords entries (one per entry) and ShardLimits rejections.
func (i *Injector) Injected(op string) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.injected[op]
}

// RoundTrip implements http.RoundTripper.
func (i *Injector) RoundTrip(req *http.Request) (*http.Response, error) {
	call, err := i.readCall(req)
	if err != nil {
		return nil, err
	}
	if call.Service == "" {
		return i.next.RoundTrip(req)
	}
	i.mu.Lock()
	i.calls[call.Op]++
	active := len(i.rules) > 0 || i.limit != nil
	i.mu.Unlock()

	if active && call.Op == "PutRecord" && call.Shard == "" {
		h, ok := partitionHash(call.Body)
		call.Shard = i.routeTo(req, call, h, ok)
	}

	p := i.plan(call)
	for _, h := range p.hooks {
		h.hook(h.hit)
	}
	for _, d := range p.delays {
		if err := sleep(req.Context(), d); err != nil {
			return nil, err
		}
	}
	if p.final != nil {
		switch p.final.kind {
		case kindError:
			return errorResponse(req, call, p.final.status, p.final.codeOf(call), p.final.messageOf(call)), nil
		case kindReset:
			return nil, resetError(req)
		case kindAfter:
			resp, err := i.forward(req, call, call.Body)
			if err != nil {
				return nil, err
			}
			switch p.final.inner.kind {
			case kindError:
				drain(resp)
				f := p.final.inner
				return errorResponse(req, call, f.status, f.codeOf(call), f.messageOf(call)), nil
			case kindReset:
				drain(resp)
				return nil, resetError(req)
			}
			return i.postProcess(req, call, resp)
		}
	}

	switch {
	case call.Op == "PutRecords" && active:
		return i.putRecords(req, call)
	case call.Op == "PutRecord" && i.limit != nil:
		if !i.allowPut(call, []putSize{{shard: call.Shard, bytes: putRecordSize(call.Body)}})[0] {
			return errorResponse(req, call, http.StatusBadRequest, codePTE, pteMessage(call)), nil
		}
	case call.Op == "GetRecords" && i.limit != nil:
		if !i.allowGet(call) {
			return errorResponse(req, call, http.StatusBadRequest, codePTE, pteMessage(call)), nil
		}
	}
	resp, err := i.forward(req, call, call.Body)
	if err != nil {
		return nil, err
	}
	return i.postProcess(req, call, resp)
}

type hookCall struct {
	hook func(Hit)
	hit  Hit
}

type plan struct {
	hooks  []hookCall
	delays []time.Duration
	final  *Fault
}

// plan walks the whole-call rules under the lock, consuming their budgets.
func (i *Injector) plan(c *Call) plan {
	var p plan
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, r := range i.rules {
		if r.Fault.kind == kindEntry || !r.matchesCall(c) || !i.take(r) {
			continue
		}
		if r.Hook != nil {
			p.hooks = append(p.hooks, hookCall{r.Hook, Hit{Call: c, Fault: r.Fault}})
		}
		switch r.Fault.kind {
		case kindNone:
			continue
		case kindDelay:
			i.injected[c.Op]++
			p.delays = append(p.delays, r.Fault.delay)
			continue
		}
		i.injected[c.Op]++
		f := r.Fault
		p.final = &f
		return p
	}
	return p
}

func (r *ruleState) matchesCall(c *Call) bool {
	return (r.Service == "" || r.Service == c.Service) &&
		(r.Op == "" || r.Op == c.Op) &&
		(r.Stream == "" || r.Stream == c.Stream) &&
		(r.Shard == "" || r.Shard == c.Shard) &&
		(r.Table == "" || r.Table == c.Table) &&
		(r.Match == nil || r.Match(c))
}

// take applies a rule's Times budget and Probability; i.mu must be held.
func (i *Injector) take(r *ruleState) bool {
	if r.Times > 0 && r.applied >= r.Times {
		return false
	}
	if r.Probability > 0 && r.Probability < 1 && i.rng.Float64() >= r.Probability {
		return false
	}
	r.applied++
	return true
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestFields are the request members the injector looks at.
type requestFields struct {
	StreamName    string
	StreamARN     string
	ConsumerARN   string
	ShardId       string //nolint:revive // AWS member name
	TableName     string
	ShardIterator string
}

// readCall reads the request body (restoring it on req) and identifies the call.
func (i *Injector) readCall(req *http.Request) (*Call, error) {
	c := &Call{Request: req}
	target := req.Header.Get("X-Amz-Target")
	svc, op, ok := strings.Cut(target, ".")
	if !ok {
		return c, nil
	}
	switch svc {
	case "Kinesis_20131202":
		c.Service = ServiceKinesis
	case "DynamoDB_20120810":
		c.Service = ServiceDynamoDB
	default:
		return c, nil
	}
	c.Op = op
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("faults: reading the %s request body: %w", op, err)
		}
		c.Body = b
	}
	req.Body = io.NopCloser(bytes.NewReader(c.Body))
	var f requestFields
	if len(c.Body) > 0 && op != "PutRecords" {
		_ = json.Unmarshal(c.Body, &f)
	} else if op == "PutRecords" {
		// Avoid decoding every record just to find the stream.
		var h struct{ StreamName, StreamARN string }
		_ = json.Unmarshal(c.Body, &h)
		f.StreamName, f.StreamARN = h.StreamName, h.StreamARN
	}
	c.Stream = f.StreamName
	if c.Stream == "" {
		c.Stream = streamFromARN(f.StreamARN)
	}
	if c.Stream == "" {
		c.Stream = streamFromARN(f.ConsumerARN)
	}
	c.Shard = f.ShardId
	c.Table = f.TableName
	if f.ShardIterator != "" {
		i.mu.Lock()
		k, ok := i.iterators[f.ShardIterator]
		i.mu.Unlock()
		if ok {
			if c.Stream == "" {
				c.Stream = k.stream
			}
			c.Shard = k.shard
		}
	}
	return c, nil
}

// streamFromARN returns the stream name of a stream or consumer ARN
// (arn:aws:kinesis:region:account:stream/NAME[/consumer/...]).
func streamFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":stream/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// forward sends body to the wrapped transport as a copy of req.
func (i *Injector) forward(req *http.Request, c *Call, body []byte) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.Header.Del("Content-Length")
	return i.next.RoundTrip(out)
}

// postProcess learns from a forwarded call's response and applies the SubscribeToShard
// shim.
func (i *Injector) postProcess(req *http.Request, c *Call, resp *http.Response) (*http.Response, error) {
	if c.Service != ServiceKinesis {
		return resp, nil
	}
	switch c.Op {
	case "GetShardIterator", "GetRecords":
		if resp.StatusCode != http.StatusOK || c.Shard == "" {
			return resp, nil
		}
		body, err := readBody(resp)
		if err != nil {
			return nil, err
		}
		var out struct{ ShardIterator, NextShardIterator string }
		if json.Unmarshal(body, &out) == nil {
			it := out.ShardIterator
			if c.Op == "GetRecords" {
				it = out.NextShardIterator
			}
			if it != "" {
				i.mu.Lock()
				i.iterators[it] = shardKey{c.Stream, c.Shard}
				i.mu.Unlock()
			}
		}
	case "SplitShard", "MergeShards", "UpdateShardCount", "DeleteStream":
		i.ForgetShards(c.Stream)
	case "SubscribeToShard":
		if i.shim && resp.StatusCode == http.StatusOK {
			resp.Body = newShimBody(resp.Body)
			resp.ContentLength = -1
			resp.Header.Del("Content-Length")
		}
	}
	return resp, nil
}

// readBody reads resp's body and replaces it with an in-memory copy.
func readBody(resp *http.Response) ([]byte, error) {
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}
