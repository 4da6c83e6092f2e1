// Package tokenbucket is the token bucket behind the per-shard limits of
// kinesistest and of the fault injector (internal/faults): one second's worth
// of tokens, refilled continuously by a clock the caller passes in, so that
// tests with a fake clock (or testing/synctest) throttle exactly.
package tokenbucket
