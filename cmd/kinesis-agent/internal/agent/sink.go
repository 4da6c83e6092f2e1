package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/process"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
	"github.com/kinesis-go/kinesis/producer"
)

// flowSink turns a flow's records into producer records: processing options,
// partition key, size limit. It runs on the flow's tailer goroutine only.
type flowSink struct {
	p          *producer.Producer
	chain      *process.Chain
	keys       *process.KeyPicker
	maxRecord  int
	terminator string
	log        *slog.Logger

	filtered, invalid atomic.Int64
}

func (s *flowSink) Send(ctx context.Context, rec []byte, ack *tail.Ack) error {
	out, ok := s.chain.Apply(rec)
	if !ok {
		s.filtered.Add(1)
		ack.Done(nil)
		return nil
	}
	if !s.chain.Empty() {
		// The chain reuses its buffer; the producer keeps Data until the result.
		out = bytes.Clone(out)
	}
	if len(out) > s.maxRecord { // processing made it bigger than a record
		out = append(out[:s.maxRecord-len(s.terminator)], s.terminator...)
	}
	key := s.keys.Key(out)
	err := s.p.Put(ctx, producer.Record{PartitionKey: key, Data: out}, func(_ producer.Result, err error) { ack.Done(err) })
	if errors.Is(err, producer.ErrInvalidRecord) {
		// Cannot be written however often it is tried: log and go on.
		s.invalid.Add(1)
		s.log.Error("record cannot be written to Kinesis; skipped", "err", err, "size", len(out))
		ack.Done(nil)
		return nil
	}
	return err
}
