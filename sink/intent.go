package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// intent is the shard's state object: the batch being written. It is written before the
// batch's first object, so a worker that resumes the shard from the same checkpoint cuts
// the batch at the same record and writes the same objects, never objects overlapping
// those already written.
type intent struct {
	// Start is the checkpoint the batch follows.
	Start position `json:"start"`
	// First and Last are the batch's first and last records.
	First position `json:"first"`
	Last  position `json:"last"`
}

// position is a checkpoint.ExtendedSequenceNumber in JSON.
type position struct {
	Seq string `json:"seq"`
	Sub int64  `json:"sub"`
}

func toPosition(e checkpoint.ExtendedSequenceNumber) position {
	return position{Seq: e.SequenceNumber, Sub: e.SubSequenceNumber}
}

func (p position) ext() checkpoint.ExtendedSequenceNumber {
	return checkpoint.ExtendedSequenceNumber{SequenceNumber: p.Seq, SubSequenceNumber: p.Sub}
}

func (s *sink) intentName(shardID string) string {
	return s.cfg.StatePrefix + s.cfg.StreamName + "/" + shardID + ".json"
}

// readIntent returns the shard's intent (nil when there is none) and, with a
// ConditionalDestination, its version.
func (s *sink) readIntent(ctx context.Context, shardID string) (*intent, string, error) {
	var b []byte
	var version string
	var err error
	if cd, ok := s.dest.(ConditionalDestination); ok {
		b, version, err = cd.GetVersion(ctx, s.intentName(shardID))
	} else {
		b, err = s.dest.Get(ctx, s.intentName(shardID))
	}
	if errors.Is(err, ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	var it intent
	if err := json.Unmarshal(b, &it); err != nil {
		// Not ours or torn by a non-atomic destination: it cannot guide a replay. Objects
		// it described would be rewritten with possibly other boundaries; say so.
		s.cfg.Logger.Error("sink: unreadable state object ignored; objects of the batch it described may be duplicated",
			"name", s.intentName(shardID), "error", err)
		return nil, version, nil
	}
	return &it, version, nil
}

// writeIntent records it; with a ConditionalDestination only if the state object is
// still at version ("": absent), else ErrConflict.
func (s *sink) writeIntent(ctx context.Context, shardID string, it intent, version string) error {
	b, err := json.Marshal(it)
	if err != nil {
		return fmt.Errorf("sink: encoding state: %w", err)
	}
	if cd, ok := s.dest.(ConditionalDestination); ok {
		return cd.PutIfVersion(ctx, s.intentName(shardID), b, version)
	}
	return s.dest.Put(ctx, s.intentName(shardID), b)
}
