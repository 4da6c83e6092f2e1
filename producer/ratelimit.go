package producer

// bucket is a token bucket refilled continuously; capacity is one second's worth.
type bucket struct {
	tokens   float64
	capacity float64
	perNS    float64
	last     int64
}

func newBucket(perSecond float64) bucket {
	return bucket{tokens: perSecond, capacity: perSecond, perNS: perSecond / 1e9}
}

func (b *bucket) refill(now int64) {
	if now > b.last {
		b.tokens = min(b.capacity, b.tokens+float64(now-b.last)*b.perNS)
		b.last = now
	}
}

// has reports whether n tokens can be taken; more than the capacity can be taken
// from a full bucket (a record bigger than a second's worth of bytes).
func (b *bucket) has(n float64) bool { return b.tokens >= n || b.tokens >= b.capacity }

// when returns the time at which has(n) becomes true.
func (b *bucket) when(n float64) int64 {
	need := min(n, b.capacity) - b.tokens
	if need <= 0 {
		return b.last
	}
	return b.last + int64(need/b.perNS) + 1
}
