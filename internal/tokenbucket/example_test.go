package tokenbucket_test

import (
	"fmt"
	"time"

	"github.com/kinesis-go/kinesis/internal/tokenbucket"
)

// A shard's 1,000 records per second: a burst takes the second's worth, then
// the bucket refills with the clock (here a time.Time, read as the time since
// an origin).
func Example() {
	origin := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := origin
	b := tokenbucket.New(1000, now.Sub(origin))
	accepted := 0
	for range 1500 {
		if b.Has(1) {
			b.Take(1)
			accepted++
		}
	}
	fmt.Println("burst:", accepted, "wait:", b.Wait(1))
	now = now.Add(250 * time.Millisecond)
	b.Refill(now.Sub(origin))
	fmt.Println("after 250ms:", b.Available())
	// Output:
	// burst: 1000 wait: 1ms
	// after 250ms: 250
}
