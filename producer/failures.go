package producer

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"sync"
	"time"
)

// Every failed user record, whatever failed it (a PutRecords call or entry, its TTL
// passing while the shard map cannot be loaded or the shard is rate limited or
// throttled, a stream that does not exist, Close giving up), gets its result through
// fail. That is where it is counted (Stats, the UserRecordsFailed, UserRecordExpired
// and ErrorsByCode metrics) and logged (rate limited, with counts), so that no path
// fails records silently.

// fail delivers err as the result of k's user records.
func (p *Producer) fail(k *krec, err error) {
	n := int64(len(k.recs))
	k.err = err
	code := failureCode(err)
	p.stats.failed.Add(n)
	if errors.Is(err, ErrRecordExpired) {
		p.stats.expired.Add(n)
		p.metrics.expired(k.shard, n)
	}
	if len(k.attempts) == 0 {
		// No PutRecords attempt counted the failure in ErrorsByCode: count its cause.
		p.metrics.errorCode(code, k.shard, n)
	}
	p.metrics.failed(code, k.shard, n)
	p.failLog.note(n, code, err)
	p.deliv.push(k)
}

// expire fails k with an *ExpiredError wrapping cause.
func (p *Producer) expire(k *krec, cause error) {
	p.fail(k, &ExpiredError{TTL: p.opts.RecordTTL, Attempts: len(k.attempts), Cause: cause})
}

// failRecs delivers err as the result of recs (not part of any Kinesis record yet).
func (p *Producer) failRecs(recs []urec, err error) {
	if len(recs) == 0 {
		return
	}
	k := p.getKrec()
	k.recs = append(p.urecs.get(len(recs)), recs...)
	p.fail(k, err)
}

// failureCode names the cause of a failed record in metrics and logs: the AWS error
// code (of the expiry's cause for an expired record), "ConnectionError", "Timeout",
// or the producer's own reasons: "Closed", "ShardMapNotLoaded", "RateLimited".
func failureCode(err error) string {
	var ee *ExpiredError
	if errors.As(err, &ee) && ee.Cause != nil {
		err = ee.Cause
	}
	switch {
	case errors.Is(err, ErrClosed):
		return "Closed"
	case errors.Is(err, errMapNotLoaded):
		return "ShardMapNotLoaded"
	case errors.Is(err, errRateLimited):
		return "RateLimited"
	}
	return classify(err).code
}

// logEvery is how often a rateLog writes a line while its events keep coming.
const logEvery = 10 * time.Second

// rateLog logs repeated events (failed records, failed listings) without flooding:
// the first event at once, then at most one line per logEvery with the counts since
// the last line, by code, and the last error. Whatever is counted is logged: a
// pending line is written when the interval ends, or at Close.
type rateLog struct {
	log   *slog.Logger
	level slog.Level
	msg   string
	unit  string       // the count's key: "records", "failures"
	now   func() int64 // the producer's clock (Producer.now)

	mu      sync.Mutex
	last    int64 // now() when the last line was written, 0 before the first
	counts  map[string]int64
	total   int64
	lastErr error
	timer   *time.Timer
	running sync.WaitGroup // a timer's line being written
}

func newRateLog(log *slog.Logger, now func() int64, level slog.Level, msg, unit string) *rateLog {
	return &rateLog{log: log, now: now, level: level, msg: msg, unit: unit, counts: make(map[string]int64)}
}

// note counts n events of code, err being the latest.
func (l *rateLog) note(n int64, code string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.timer == nil && (l.last == 0 || now-l.last >= int64(logEvery)) {
		l.last = now
		l.log.Log(context.Background(), l.level, l.msg, l.unit, n, "code", code, "error", err)
		return
	}
	l.counts[code] += n
	l.total += n
	l.lastErr = err
	if l.timer == nil {
		l.running.Add(1)
		l.timer = time.AfterFunc(time.Duration(l.last+int64(logEvery)-now), func() {
			defer l.running.Done()
			l.mu.Lock()
			defer l.mu.Unlock()
			l.flushLocked()
		})
	}
}

// flushLocked writes the line of the events counted since the last one.
func (l *rateLog) flushLocked() {
	l.timer = nil
	if l.total == 0 {
		return
	}
	l.last = l.now()
	l.log.Log(context.Background(), l.level, l.msg, l.unit, l.total, "codes", maps.Clone(l.counts),
		"since", logEvery, "error", l.lastErr)
	clear(l.counts)
	l.total, l.lastErr = 0, nil
}

// close writes the pending line, if any, and waits for a timer's line.
func (l *rateLog) close() {
	l.mu.Lock()
	if l.timer != nil && l.timer.Stop() {
		l.running.Done()
	}
	l.flushLocked()
	l.mu.Unlock()
	l.running.Wait()
}
