package producer

import (
	"time"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// How a failed Kinesis record is tried again. The call's outcome is classified once
// (send.go, internal/awserr: throttled, retryable, or not); then:
//   - throttled (ProvisionedThroughputExceededException, the throttling codes of
//     internal/awserr, HTTP 429): the whole
//     shard backs off (shardQueue.backOff: awserr.Backoff from throttleBackoffMin
//     doubling to throttleBackoffMax, its rate limiter emptied) and the record waits in
//     the shard's retry list, sent before fresh records when the shard may send again;
//   - another retryable error: the record alone waits awserr.Backoff from
//     retryBackoffMin to retryBackoffMax (krec.notBefore);
//   - either way it fails with its last error once the wait would pass its RecordTTL,
//     and at once when FailIfThrottled is set and it was throttled;
//   - a success on the shard ends its backoff.

// Retry backoff of a Kinesis record that failed with a retryable error other than
// throttling (throttling backs the whole shard off instead).
const (
	retryBackoffMin = 100 * time.Millisecond
	retryBackoffMax = 5 * time.Second
)

// retryOrFail queues k for another attempt, unless that cannot happen within its TTL
// or FailIfThrottled says no.
func (p *Producer) retryOrFail(k *krec, err error, c class, now int64, r *sendResult) {
	k.lastErr = err
	if c.throttled && p.opts.FailIfThrottled {
		p.fail(k, err)
		return
	}
	var delay time.Duration
	if c.throttled {
		delay = 0 // the shard's throttling backoff holds it
	} else {
		delay = awserr.Backoff(len(k.attempts), retryBackoffMin, retryBackoffMax)
	}
	if now+int64(delay) >= k.expiry {
		p.expire(k, err)
		return
	}
	k.notBefore = now + int64(delay)
	p.stats.retries.Add(1)
	r.retries.pushBack(k)
}

// Throttling backoff of a shard (shardQueue.backOff).
const (
	throttleBackoffMin = 50 * time.Millisecond
	throttleBackoffMax = 2 * time.Second
)

// backOff starts or lengthens the shard's throttling backoff after a throttled call:
// nothing is sent to it until blockedUntil, and its rate limiter restarts empty.
func (q *shardQueue) backOff(now int64) {
	q.throttles++
	q.blockedUntil = now + int64(awserr.Backoff(q.throttles, throttleBackoffMin, throttleBackoffMax))
	q.records.Refill(time.Duration(now))
	q.bytes.Refill(time.Duration(now))
	q.records.Drain()
	q.bytes.Drain()
}

// requeue appends a record to its shard's retry list; admitShard sends retries before
// fresh records. The list is in the shard's order only with PreserveOrder, where a
// shard has one call in flight and its failed records come back in the order they were
// sent; without it, retries of concurrent calls are appended in the order their calls
// end.
func (d *dispatcher) requeue(k *krec) {
	q := &k.shard.q
	q.retry.pushBack(k)
}

// removeRetry takes k out of q's retry list (expired, or admitted out of order).
func (d *dispatcher) removeRetry(q *shardQueue, k *krec) {
	if q.retry.head == k {
		q.retry.popFront()
		return
	}
	for prev := q.retry.head; prev != nil; prev = prev.next {
		if prev.next == k {
			prev.next = k.next
			if q.retry.tail == k {
				q.retry.tail = prev
			}
			k.next = nil
			q.retry.n--
			return
		}
	}
}
