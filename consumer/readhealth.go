package consumer

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/kinesis-go/kinesis/internal/awserr"
)

// stuckReadAfter is how long a shard's reader may fail without a successful read before
// the shard is reported (ERROR) as one that cannot be read; the report is repeated at
// this interval while it lasts.
const stuckReadAfter = time.Minute

// readHealth follows the failures of one shard reader (GetShardIterator and GetRecords,
// or SubscribeToShard), so that a shard that cannot be read is loud: each failed call
// counts in ReadErrors (by shard, operation and error code), and a shard without a
// successful read for stuckReadAfter is logged as an ERROR. Used by the reader's
// goroutine only.
type readHealth struct {
	s            *shard
	failingSince time.Time // first failure since the last successful read; zero while reads succeed
	reported     time.Time // when the ERROR was last logged; zero if not since failingSince
	failures     int
}

// failed records a failed call of operation.
func (h *readHealth) failed(operation string, err error) {
	s := h.s
	code := awserr.Classify(err).Code // the AWS code, or ConnectionError, Timeout, HTTP<status>, Unknown
	s.w.m.readErrors.Add(context.Background(), 1, s.w.m.shardAttrs(s.id,
		attribute.String("operation", operation), attribute.String("code", code)))
	h.failures++
	now := time.Now()
	if h.failingSince.IsZero() {
		h.failingSince = now
		return
	}
	if now.Sub(h.failingSince) < stuckReadAfter || !h.reported.IsZero() && now.Sub(h.reported) < stuckReadAfter {
		return
	}
	h.reported = now
	s.log.Error("shard cannot be read: no successful read for a long time, its records are not processed",
		"for", now.Sub(h.failingSince).Round(time.Second), "failures", h.failures, "operation", operation, "code", code,
		"checkpoint", s.start.String(), "error", err)
}

// succeeded records a successful read.
func (h *readHealth) succeeded() {
	if h.failingSince.IsZero() {
		return
	}
	if !h.reported.IsZero() {
		h.s.log.Warn("shard readable again", "after", time.Since(h.failingSince).Round(time.Second), "failures", h.failures)
	}
	*h = readHealth{s: h.s}
}
