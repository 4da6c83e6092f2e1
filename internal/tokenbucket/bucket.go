package tokenbucket

import "time"

// Bucket holds at most Rate tokens and refills at Rate per second. A negative
// rate never limits. The zero value never admits anything; use New. It is not
// safe for concurrent use.
type Bucket struct {
	rate   float64
	tokens float64
	last   time.Time
}

// New returns a full bucket of rate tokens per second, as of now.
func New(rate int, now time.Time) Bucket {
	return Bucket{rate: float64(rate), tokens: float64(rate), last: now}
}

// Refill adds what accrued since the last refill; a clock that goes back
// adds nothing.
func (b *Bucket) Refill(now time.Time) {
	if b.rate < 0 || !now.After(b.last) {
		return
	}
	b.tokens = min(b.rate, b.tokens+b.rate*now.Sub(b.last).Seconds())
	b.last = now
}

// Has reports whether n tokens are available. A full bucket admits any single
// request, so one larger than a second's worth is not refused forever.
func (b *Bucket) Has(n float64) bool { return b.rate < 0 || b.tokens >= n || b.tokens >= b.rate }

// Take removes n tokens, possibly going into debt (negative tokens).
func (b *Bucket) Take(n float64) {
	if b.rate >= 0 {
		b.tokens -= n
	}
}

// InDebt reports whether more was taken than the bucket held.
func (b *Bucket) InDebt() bool { return b.rate >= 0 && b.tokens < 0 }

// Available returns the whole tokens available now (a large number when the
// bucket never limits), 0 in debt.
func (b *Bucket) Available() int {
	if b.rate < 0 {
		return int(^uint(0) >> 1)
	}
	return max(0, int(b.tokens))
}

// Wait returns how long until the bucket holds at least one token.
func (b *Bucket) Wait() time.Duration {
	if b.rate <= 0 || b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}
