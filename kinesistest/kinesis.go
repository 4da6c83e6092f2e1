package kinesistest

import (
	"fmt"
	"math/big"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/aggregation"
)

// Defaults used when the matching Options field is zero.
const (
	// DefaultMaxRecordSize is the largest data blob plus partition key AWS accepts
	// per record unless the stream was created with a larger MaxRecordSizeInKiB.
	DefaultMaxRecordSize = 1 << 20
	// DefaultMaxPutRecordsSize is the largest total of data plus partition keys
	// AWS accepts in one PutRecords call.
	DefaultMaxPutRecordsSize = 5 << 20
	// DefaultMaxGetRecordsSize is the most data one GetRecords call returns.
	DefaultMaxGetRecordsSize = 10 << 20
	// DefaultIteratorTTL is how long a shard iterator (and a ListShards NextToken)
	// stays valid on AWS.
	DefaultIteratorTTL = 5 * time.Minute
	// DefaultOnDemandShardCount is the shard count of an ON_DEMAND stream created
	// without ShardCount.
	DefaultOnDemandShardCount = 4
)

// Kinesis is the server's in-process Kinesis Data Streams: its methods have
// the signatures of *kinesis.Client, so it satisfies the narrow client
// interfaces of the producer and consumer and is called without HTTP. Get it
// from Server.Kinesis. It is safe for concurrent use.
type Kinesis struct {
	opts Options
	done <-chan struct{} // closed when the server closes
	srv  *Server

	mu      sync.RWMutex
	streams map[string]*stream // by name
	nextUID uint64

	ctlMu       sync.Mutex
	controls    []*control // copy on write
	hasControls atomic.Bool

	counters  [numOps]atomic.Int64
	recsPut   atomic.Int64
	bytesPut  atomic.Int64
	recsFail  atomic.Int64
	throttled atomic.Int64
	recsRead  atomic.Int64
	bytesRead atomic.Int64
}

// newKinesis returns an empty Kinesis (no streams); o is validated.
func newKinesis(o Options) *Kinesis {
	return &Kinesis{opts: o, streams: make(map[string]*stream), done: make(chan struct{})}
}

// now returns the Options.Now clock's time at AWS's millisecond precision.
func (k *Kinesis) now() time.Time { return k.opts.Now().Truncate(time.Millisecond) }

// stream is one Kinesis stream. mu guards everything below it.
type stream struct {
	name, arn, id string
	uid           uint64 // distinguishes a re-created stream with the same name
	created       time.Time
	mode          types.StreamMode
	maxRecordSize int

	mu          sync.RWMutex
	deleted     bool
	shards      []*shard // all shards; index == shard number in its ID
	open        []*shard // open shards sorted by hash range start; they cover all keys
	counter     uint64   // last sequence counter handed out
	lastArrival time.Time
	retention   time.Duration
	lastTrim    time.Time
	consumers   map[string]*streamConsumer // by name
	changed     chan struct{}              // closed and replaced when records arrive or shards close
}

// notify wakes the subscriptions waiting for news; the caller holds s.mu.
func (s *stream) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// shard is one shard. Its fields are guarded by the stream's mu.
type shard struct {
	idx        int
	id         string
	seqSuffix  string // last digits of its sequence numbers
	rng        aggregation.HashRange
	parent     string
	adjParent  string
	startCount uint64 // counter of StartingSequenceNumber; records are above it
	endCount   uint64 // counter of EndingSequenceNumber once closed
	closed     bool
	createdAt  time.Time
	closedAt   time.Time
	records    recordLog
	limiter    shardLimiter
}

// record is one stored record, kept small: shards may hold millions.
type record struct {
	counter uint64
	arrival int64 // Unix nanoseconds, whole milliseconds
	pk      string
	data    []byte
}

func shardID(i int) string { return fmt.Sprintf("shardId-%012d", i) }

// newShard appends a new open shard to s (the caller fixes s.open).
func (s *stream) newShard(rng aggregation.HashRange, parent, adj string, now time.Time) *shard {
	s.counter++
	sh := &shard{
		idx:        len(s.shards),
		rng:        rng,
		parent:     parent,
		adjParent:  adj,
		startCount: s.counter,
		createdAt:  now,
	}
	sh.id = shardID(sh.idx)
	sh.seqSuffix = seqSuffix(sh.idx)
	s.shards = append(s.shards, sh)
	return sh
}

// seq formats the sequence number of counter c in sh.
func (sh *shard) seq(c uint64) string {
	var buf [seqLen]byte
	return string(appendSeq(buf[:0], c, sh.seqSuffix))
}

// closeShard closes sh now (the caller fixes s.open).
func (s *stream) closeShard(sh *shard, now time.Time) {
	s.counter++
	sh.closed = true
	sh.endCount = s.counter
	sh.closedAt = now
	s.notify()
}

// resortOpen rebuilds the routing table from the open shards.
func (s *stream) resortOpen() {
	s.open = s.open[:0]
	for _, sh := range s.shards {
		if !sh.closed {
			s.open = append(s.open, sh)
		}
	}
	sort.Slice(s.open, func(i, j int) bool { return s.open[i].rng.Start.Compare(s.open[j].rng.Start) < 0 })
}

// route returns the open shard whose range holds h.
func (s *stream) route(h aggregation.Hash128) *shard {
	// Last open shard whose start is <= h; the open shards cover every key.
	i := sort.Search(len(s.open), func(i int) bool { return s.open[i].rng.Start.Compare(h) > 0 })
	return s.open[i-1]
}

// shardByID returns the shard named id, or nil.
func (s *stream) shardByID(id string) *shard {
	n, ok := parseShardID(id)
	if !ok || n >= len(s.shards) {
		return nil
	}
	return s.shards[n]
}

func parseShardID(id string) (int, bool) {
	const prefix = "shardId-"
	if !strings.HasPrefix(id, prefix) || len(id) != len(prefix)+12 {
		return 0, false
	}
	n := 0
	for _, c := range id[len(prefix):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// evenRanges splits the whole hash key space into n ranges the way AWS does
// for a new stream: range i starts at i*floor(2^128/n), the last one ends at
// 2^128-1.
func evenRanges(n int) []aggregation.HashRange {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	step := new(big.Int).Div(space, big.NewInt(int64(n)))
	out := make([]aggregation.HashRange, n)
	for i := range n {
		start := new(big.Int).Mul(step, big.NewInt(int64(i)))
		out[i].Start = fromBig(start)
		if i == n-1 {
			out[i].End = aggregation.MaxHashKey
		} else {
			end := new(big.Int).Sub(new(big.Int).Add(start, step), big.NewInt(1))
			out[i].End = fromBig(end)
		}
	}
	return out
}

func fromBig(b *big.Int) aggregation.Hash128 {
	var buf [16]byte
	b.FillBytes(buf[:])
	var h aggregation.Hash128
	for i := range 8 {
		h.Hi = h.Hi<<8 | uint64(buf[i])
		h.Lo = h.Lo<<8 | uint64(buf[8+i])
	}
	return h
}

func prevKey(h aggregation.Hash128) aggregation.Hash128 {
	if h.Lo == 0 {
		return aggregation.Hash128{Hi: h.Hi - 1, Lo: ^uint64(0)}
	}
	return aggregation.Hash128{Hi: h.Hi, Lo: h.Lo - 1}
}

func nextKey(h aggregation.Hash128) aggregation.Hash128 {
	if h.Lo == ^uint64(0) {
		return aggregation.Hash128{Hi: h.Hi + 1}
	}
	return aggregation.Hash128{Hi: h.Hi, Lo: h.Lo + 1}
}

// toShard renders sh as the SDK type. The caller holds the stream lock.
func (sh *shard) toShard() types.Shard {
	out := types.Shard{
		ShardId: aws.String(sh.id),
		HashKeyRange: &types.HashKeyRange{
			StartingHashKey: aws.String(sh.rng.Start.String()),
			EndingHashKey:   aws.String(sh.rng.End.String()),
		},
		SequenceNumberRange: &types.SequenceNumberRange{
			StartingSequenceNumber: aws.String(sh.seq(sh.startCount)),
		},
	}
	if sh.closed {
		out.SequenceNumberRange.EndingSequenceNumber = aws.String(sh.seq(sh.endCount))
	}
	if sh.parent != "" {
		out.ParentShardId = aws.String(sh.parent)
	}
	if sh.adjParent != "" {
		out.AdjacentParentShardId = aws.String(sh.adjParent)
	}
	return out
}

// lookup finds a live stream by name or ARN (ARN wins when both are set).
func (k *Kinesis) lookup(name, arn, id *string) (*stream, error) {
	n := aws.ToString(name)
	if a := aws.ToString(arn); a != "" {
		i := strings.LastIndex(a, ":stream/")
		if i < 0 {
			return nil, invalidArgument("invalid StreamARN %q", a)
		}
		n = a[i+len(":stream/"):]
		k.mu.RLock()
		s := k.streams[n]
		k.mu.RUnlock()
		if s == nil || s.arn != a {
			return nil, notFound("Stream %s under account %s not found.", n, k.opts.AccountID)
		}
		return s, nil
	}
	if n == "" && aws.ToString(id) != "" {
		k.mu.RLock()
		defer k.mu.RUnlock()
		for _, s := range k.streams {
			if s.id == aws.ToString(id) {
				return s, nil
			}
		}
		return nil, notFound("Stream with id %s under account %s not found.", aws.ToString(id), k.opts.AccountID)
	}
	if n == "" {
		return nil, invalidArgument("StreamName or StreamARN is required")
	}
	k.mu.RLock()
	s := k.streams[n]
	k.mu.RUnlock()
	if s == nil {
		return nil, notFound("Stream %s under account %s not found.", n, k.opts.AccountID)
	}
	return s, nil
}
