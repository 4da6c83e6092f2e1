// Package tokenbucket is the token bucket behind every per-shard limit: the
// producer's rate limiter (Options.RateLimit), and the limits of kinesistest
// and of the fault injector (internal/faults). A bucket holds one second's
// worth of tokens, refilled continuously by a clock the caller passes in, so
// that tests with a fake clock (or testing/synctest) throttle exactly.
package tokenbucket
