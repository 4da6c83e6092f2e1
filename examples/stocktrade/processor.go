package stocktrade

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/kinesis-go/kinesis/consumer"
)

// collector gathers the trades of every shard this worker holds, reports them each
// interval and then checkpoints each shard at the last trade the report counted, so a
// restart never counts a reported trade twice in the stats of the same worker and never
// skips an unreported one.
type collector struct {
	out    io.Writer
	logger *slog.Logger

	mu       sync.Mutex
	interval *Stats              // since the last report
	total    *Stats              // since start (the final summary)
	pending  map[string]position // shard -> last trade counted since the last report
	reports  int
	invalid  int64
	counted  *atomic.Int64 // optional: trades counted so far, for watchers
}

type position struct {
	seq    string
	subSeq int64
	cp     consumer.Checkpointer
}

func newCollector(out io.Writer, logger *slog.Logger) *collector {
	return &collector{out: out, logger: logger, interval: NewStats(), total: NewStats(), pending: map[string]position{}}
}

func (c *collector) add(shardID string, recs []consumer.Record, cp consumer.Checkpointer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		t, err := Decode(r.Data)
		if err != nil {
			// Not ours: count and skip it, it is still checkpointed past.
			c.invalid++
			continue
		}
		c.interval.Add(t)
		c.total.Add(t)
		if c.counted != nil {
			c.counted.Add(1)
		}
	}
	if n := len(recs); n > 0 {
		last := recs[n-1]
		c.pending[shardID] = position{seq: last.SequenceNumber, subSeq: last.SubSequenceNumber, cp: cp}
	}
}

// report prints the interval's statistics and checkpoints what they counted.
func (c *collector) report(ctx context.Context, title string) {
	c.mu.Lock()
	stats, pending := c.interval, c.pending
	c.interval, c.pending = NewStats(), map[string]position{}
	c.reports++
	n := c.reports
	c.mu.Unlock()

	stats.Report(c.out, fmt.Sprintf("%s #%d", title, n))
	for shard, p := range pending {
		err := p.cp.CheckpointAt(ctx, p.seq, p.subSeq)
		switch {
		case errors.Is(err, consumer.ErrLeaseLost):
			c.logger.Info("shard moved to another worker before its checkpoint; it will re-read from the previous one", "shard", shard)
		case err != nil:
			c.logger.Warn("checkpoint failed; the trades since the previous checkpoint will be read again after a restart", "shard", shard, "error", err)
		}
	}
}

// forget drops a shard's pending position after its lease was lost.
func (c *collector) forget(shardID string) {
	c.mu.Lock()
	delete(c.pending, shardID)
	c.mu.Unlock()
}

// tradeProcessor is the RecordProcessor of one shard.
type tradeProcessor struct {
	shardID string
	c       *collector
}

func (p *tradeProcessor) Initialize(ctx context.Context, in consumer.InitializeInput) error {
	p.c.logger.Info("processing shard", "shard", p.shardID)
	return nil
}

func (p *tradeProcessor) ProcessRecords(ctx context.Context, in consumer.ProcessRecordsInput) error {
	p.c.add(p.shardID, in.Records, in.Checkpointer)
	return nil
}

func (p *tradeProcessor) LeaseLost(ctx context.Context, in consumer.LeaseLostInput) {
	p.c.forget(p.shardID)
}

func (p *tradeProcessor) ShardEnded(ctx context.Context, in consumer.ShardEndedInput) error {
	// Every trade of a closed shard has been counted: mark it finished so its children
	// start. (The consumer would write SHARD_END itself; saying it is clearer.)
	p.c.forget(p.shardID)
	return in.Checkpointer.Checkpoint(ctx)
}

func (p *tradeProcessor) ShutdownRequested(ctx context.Context, in consumer.ShutdownRequestedInput) error {
	// The worker is stopping: report what was counted since the last report and
	// checkpoint it while the leases are still held (the first shard to get here does it
	// for all).
	p.c.mu.Lock()
	_, has := p.c.pending[p.shardID]
	p.c.mu.Unlock()
	if has {
		p.c.report(ctx, "final report")
	}
	return nil
}
