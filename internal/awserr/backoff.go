package awserr

import (
	"math/rand/v2"
	"time"
)

// Backoff returns the delay before retry number attempt (1 for the first retry):
// exponential, min(ceiling, base*2^(attempt-1)), with "equal" jitter, a uniformly random
// delay between half of that and all of it.
//
// Equal rather than full jitter (uniform between 0 and the whole delay): the random half
// still spreads the retries of many clients apart, and the fixed half guarantees that a
// throttled caller really waits, so the worst-case request rate of one reader or writer
// under throttling is bounded (Kinesis limits a shard to 5 reads a second; full jitter may
// retry at once, again and again). It costs a little more total waiting than full jitter,
// which AWS's own analysis prefers for many clients contending for one resource.
func Backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	d = min(d, ceiling)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}
