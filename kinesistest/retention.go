package kinesistest

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
)

// Retention bounds of AWS, in hours.
const (
	// DefaultRetentionHours is the retention of a new stream.
	DefaultRetentionHours = 24
	// MaxRetentionHours is the longest retention AWS allows (365 days).
	MaxRetentionHours = 8760
)

// trimInterval is how often PutRecord(s) frees the memory of trimmed records.
const trimInterval = time.Second

// horizon returns the arrival time (Unix nanoseconds) before which records of
// s are trimmed at now: the stream's retention ago.
func (s *stream) horizon(now time.Time) int64 { return now.Add(-s.retention).UnixNano() }

// trimHorizon is the time since which the stream keeps data: its creation or
// its retention ago, whichever is later.
func (s *stream) trimHorizon(now time.Time) time.Time {
	if t := now.Add(-s.retention); t.After(s.created) {
		return t
	}
	return s.created
}

// firstLive returns the index of sh's oldest record within retention.
func (sh *shard) firstLive(horizon int64) int {
	return sh.records.search(func(r *record) bool { return r.arrival >= horizon })
}

// expired reports whether sh closed longer than the retention ago; AWS then
// no longer lists it.
func (s *stream) expired(sh *shard, now time.Time) bool {
	return sh.closed && sh.closedAt.Before(now.Add(-s.retention))
}

// trim frees the chunks of records past retention, at most once per
// trimInterval. The caller holds s.mu for writing.
func (s *stream) trim(now time.Time) {
	if now.Sub(s.lastTrim) < trimInterval {
		return
	}
	s.lastTrim = now
	h := s.horizon(now)
	for _, sh := range s.shards {
		sh.records.dropBefore(sh.firstLive(h))
	}
}

// IncreaseStreamRetentionPeriod raises the stream's retention to
// RetentionPeriodHours, which must be above the current one and at most 8,760
// (else *types.InvalidArgumentException, like AWS).
func (k *Kinesis) IncreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.IncreaseStreamRetentionPeriodInput, _ ...func(*kinesis.Options)) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
	return serve(k, ctx, OpIncreaseStreamRetentionPeriod, in, func(*Call) (*kinesis.IncreaseStreamRetentionPeriodOutput, error) {
		return &kinesis.IncreaseStreamRetentionPeriodOutput{}, k.setRetention(in.StreamName, in.StreamARN, in.StreamId, in.RetentionPeriodHours, true)
	})
}

// DecreaseStreamRetentionPeriod lowers the stream's retention to
// RetentionPeriodHours, which must be below the current one and at least 24
// (else *types.InvalidArgumentException, like AWS). Records older than the
// new retention are trimmed at once.
func (k *Kinesis) DecreaseStreamRetentionPeriod(ctx context.Context, in *kinesis.DecreaseStreamRetentionPeriodInput, _ ...func(*kinesis.Options)) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
	return serve(k, ctx, OpDecreaseStreamRetentionPeriod, in, func(*Call) (*kinesis.DecreaseStreamRetentionPeriodOutput, error) {
		return &kinesis.DecreaseStreamRetentionPeriodOutput{}, k.setRetention(in.StreamName, in.StreamARN, in.StreamId, in.RetentionPeriodHours, false)
	})
}

func (k *Kinesis) setRetention(name, arn, id *string, hours *int32, increase bool) error {
	s, err := k.lookup(name, arn, id)
	if err != nil {
		return err
	}
	if hours == nil {
		return validation("1 validation error detected: Value null at 'retentionPeriodHours' failed to satisfy constraint: Member must not be null")
	}
	h := int(*hours)
	switch {
	case h < DefaultRetentionHours:
		return invalidArgument("Minimum allowed retention period is %d hours. Requested retention period (%d hours) is too short.", DefaultRetentionHours, h)
	case h > MaxRetentionHours:
		return invalidArgument("Maximum allowed retention period is %d hours. Requested retention period (%d hours) is too long.", MaxRetentionHours, h)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := int(s.retention / time.Hour)
	if increase && h < cur {
		return invalidArgument("Requested retention period (%d hours) for stream %s can not be shorter than existing retention period (%d hours). Use DecreaseRetentionPeriod API.", h, s.name, cur)
	}
	if !increase && h > cur {
		return invalidArgument("Requested retention period (%d hours) for stream %s can not be longer than existing retention period (%d hours). Use IncreaseRetentionPeriod API.", h, s.name, cur)
	}
	s.retention = time.Duration(h) * time.Hour
	s.lastTrim = time.Time{}
	s.trim(k.now())
	return nil
}

// retentionHours renders the stream's retention for its descriptions.
func (s *stream) retentionHours() *int32 { return aws.Int32(int32(s.retention / time.Hour)) }
