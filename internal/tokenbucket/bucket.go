package tokenbucket

import (
	"math"
	"time"
)

// Bucket holds at most Rate tokens and refills at Rate per second. A negative
// rate never limits: the bucket is infinite, which keeps the checks of a
// limiting bucket free of a special case. Use New (the zero value, of rate 0,
// counts as full and admits everything). It is not safe for concurrent use.
//
// Its clock is a time.Duration: the time elapsed on the caller's monotonic
// clock since an origin of the caller's choosing, the same for every call on a
// bucket. The producer passes its own nanosecond clock as it is (no conversion
// on its hot path); a caller holding a time.Time passes now.Sub(origin).
type Bucket struct {
	rate   float64 // +Inf: never limits
	perNS  float64 // rate per nanosecond
	tokens float64
	last   time.Duration
}

// New returns a full bucket of rate tokens per second, as of now.
func New(rate int, now time.Duration) Bucket {
	r := float64(rate)
	if rate < 0 {
		r = math.Inf(1)
	}
	return Bucket{rate: r, perNS: r / float64(time.Second), tokens: r, last: now}
}

// Refill adds what accrued since the last refill; a clock that goes back
// adds nothing.
func (b *Bucket) Refill(now time.Duration) {
	if now <= b.last {
		return
	}
	b.tokens = min(b.rate, b.tokens+float64(now-b.last)*b.perNS)
	b.last = now
}

// Has reports whether n tokens are available. A full bucket admits any single
// request, so one larger than a second's worth is not refused forever.
func (b *Bucket) Has(n float64) bool { return b.tokens >= n || b.tokens >= b.rate }

// Take removes n tokens, possibly going into debt (negative tokens).
func (b *Bucket) Take(n float64) { b.tokens -= n }

// Drain sets the tokens to 0 (forgiving a debt): what the owner does when the
// service says it is over its limit although the bucket had tokens (the
// producer, when a shard is throttled). A bucket that never limits stays full.
func (b *Bucket) Drain() {
	if !math.IsInf(b.rate, 1) {
		b.tokens = 0
	}
}

// InDebt reports whether more was taken than the bucket held.
func (b *Bucket) InDebt() bool { return b.tokens < 0 }

// Available returns the whole tokens available now (a large number when the
// bucket never limits), 0 in debt.
func (b *Bucket) Available() int {
	if math.IsInf(b.tokens, 1) {
		return math.MaxInt
	}
	return max(0, int(b.tokens))
}

// Wait returns how long after the last Refill Has(n) becomes true (0: now):
// the first nanosecond at which a Refill makes it true.
func (b *Bucket) Wait(n float64) time.Duration {
	if b.rate <= 0 || b.Has(n) {
		return 0
	}
	want := min(n, b.rate)
	d := time.Duration(math.Ceil((want - b.tokens) / b.perNS))
	for b.tokens+float64(d)*b.perNS < want { // float rounding: what Refill would add
		d++
	}
	return d
}
