package kinesistest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Enhanced fan-out constants of AWS.
const (
	// MaxStreamConsumers is how many consumers one stream may register.
	MaxStreamConsumers = 20
	// DefaultSubscriptionDuration is how long a SubscribeToShard event stream
	// lasts on AWS before the service ends it and the consumer subscribes
	// again (Options.SubscriptionDuration).
	DefaultSubscriptionDuration = 5 * time.Minute
	// SubscriptionHeartbeat is how long a subscription that has nothing new
	// stays silent before it sends an event without records.
	SubscriptionHeartbeat = 5 * time.Second
	// maxEventRecords bounds the records of one SubscribeToShard event.
	maxEventRecords = 10000
	// maxEventBytes bounds the data of one SubscribeToShard event.
	maxEventBytes = 1 << 20
)

// streamConsumer is a registered enhanced fan-out consumer. Its fields below
// arn are guarded by the stream's mu.
type streamConsumer struct {
	name, arn string
	created   time.Time
	deleted   bool
	subs      map[int]*subscription // active subscriptions by shard number
	lastSub   map[int]time.Time     // last SubscribeToShard by shard number, for Limits
}

func (c *streamConsumer) describe(s *stream) *types.ConsumerDescription {
	return &types.ConsumerDescription{
		ConsumerName:              aws.String(c.name),
		ConsumerARN:               aws.String(c.arn),
		ConsumerStatus:            types.ConsumerStatusActive,
		ConsumerCreationTimestamp: aws.Time(c.created),
		StreamARN:                 aws.String(s.arn),
	}
}

// RegisterStreamConsumer registers an enhanced fan-out consumer of the stream
// StreamARN. Like AWS it answers with ConsumerStatus CREATING; the consumer is
// usable at once and DescribeStreamConsumer reports it ACTIVE. A name already
// registered fails with *types.ResourceInUseException, a 21st consumer with
// *types.LimitExceededException.
func (k *Kinesis) RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error) {
	return serve(k, ctx, OpRegisterStreamConsumer, in, func(*Call) (*kinesis.RegisterStreamConsumerOutput, error) {
		if aws.ToString(in.StreamARN) == "" {
			return nil, validation("1 validation error detected: Value null at 'streamARN' failed to satisfy constraint: Member must not be null")
		}
		name := aws.ToString(in.ConsumerName)
		if err := validateName("consumerName", name); err != nil {
			return nil, err
		}
		s, err := k.lookup(nil, in.StreamARN, nil)
		if err != nil {
			return nil, err
		}
		now := k.now()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.deleted {
			return nil, notFound("Stream %s under account %s not found.", s.name, k.opts.AccountID)
		}
		if _, ok := s.consumers[name]; ok {
			return nil, inUse("Consumer %s under stream %s already exists for account %s.", name, s.name, k.opts.AccountID)
		}
		if len(s.consumers) >= MaxStreamConsumers {
			return nil, limitExceeded("Stream %s under account %s already has %d consumers, the maximum.", s.name, k.opts.AccountID, MaxStreamConsumers)
		}
		c := &streamConsumer{
			name:    name,
			arn:     fmt.Sprintf("%s/consumer/%s:%d", s.arn, name, now.Unix()),
			created: now,
			subs:    map[int]*subscription{},
			lastSub: map[int]time.Time{},
		}
		s.consumers[name] = c
		return &kinesis.RegisterStreamConsumerOutput{Consumer: &types.Consumer{
			ConsumerName:              aws.String(c.name),
			ConsumerARN:               aws.String(c.arn),
			ConsumerStatus:            types.ConsumerStatusCreating,
			ConsumerCreationTimestamp: aws.Time(c.created),
		}}, nil
	})
}

// findConsumer returns the consumer named by ConsumerARN, or by StreamARN and
// ConsumerName, and its stream. The caller locks nothing.
func (k *Kinesis) findConsumer(consumerARN, streamARN, name *string) (*stream, *streamConsumer, error) {
	if arn := aws.ToString(consumerARN); arn != "" {
		i := strings.LastIndex(arn, "/consumer/")
		if i < 0 {
			return nil, nil, invalidArgument("Invalid ConsumerARN %s.", arn)
		}
		s, err := k.lookup(nil, aws.String(arn[:i]), nil)
		if err != nil {
			return nil, nil, err
		}
		cname, _, _ := strings.Cut(arn[i+len("/consumer/"):], ":")
		s.mu.RLock()
		c := s.consumers[cname]
		s.mu.RUnlock()
		if c == nil || c.arn != arn {
			return nil, nil, notFound("Consumer %s under account %s not found.", arn, k.opts.AccountID)
		}
		return s, c, nil
	}
	if aws.ToString(streamARN) == "" || aws.ToString(name) == "" {
		return nil, nil, invalidArgument("Either ConsumerARN or both StreamARN and ConsumerName must be provided.")
	}
	s, err := k.lookup(nil, streamARN, nil)
	if err != nil {
		return nil, nil, err
	}
	s.mu.RLock()
	c := s.consumers[*name]
	s.mu.RUnlock()
	if c == nil {
		return nil, nil, notFound("Consumer %s under stream %s under account %s not found.", *name, s.name, k.opts.AccountID)
	}
	return s, c, nil
}

// DescribeStreamConsumer describes a consumer named by ConsumerARN, or by
// StreamARN and ConsumerName; it is always ACTIVE.
func (k *Kinesis) DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error) {
	return serve(k, ctx, OpDescribeStreamConsumer, in, func(*Call) (*kinesis.DescribeStreamConsumerOutput, error) {
		s, c, err := k.findConsumer(in.ConsumerARN, in.StreamARN, in.ConsumerName)
		if err != nil {
			return nil, err
		}
		return &kinesis.DescribeStreamConsumerOutput{ConsumerDescription: c.describe(s)}, nil
	})
}

// ListStreamConsumers lists the consumers of StreamARN in name order, paged
// by MaxResults (default and maximum 100) and NextToken.
func (k *Kinesis) ListStreamConsumers(ctx context.Context, in *kinesis.ListStreamConsumersInput, _ ...func(*kinesis.Options)) (*kinesis.ListStreamConsumersOutput, error) {
	return serve(k, ctx, OpListStreamConsumers, in, func(*Call) (*kinesis.ListStreamConsumersOutput, error) {
		s, err := k.lookup(nil, in.StreamARN, nil)
		if err != nil {
			return nil, err
		}
		limit := 100
		if in.MaxResults != nil {
			if *in.MaxResults < 1 || *in.MaxResults > 10000 {
				return nil, validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10000", *in.MaxResults)
			}
			limit = min(int(*in.MaxResults), 100)
		}
		after := ""
		if t := aws.ToString(in.NextToken); t != "" {
			f, ok := decodeToken(t, "lc1", 2)
			if !ok {
				return nil, invalidArgument("Invalid NextToken.")
			}
			after = f[1]
		}
		s.mu.RLock()
		names := make([]string, 0, len(s.consumers))
		for n := range s.consumers {
			if n > after {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		out := &kinesis.ListStreamConsumersOutput{Consumers: []types.Consumer{}}
		for i, n := range names {
			if i == limit {
				out.NextToken = aws.String(encodeToken("lc1", names[i-1]))
				break
			}
			c := s.consumers[n]
			out.Consumers = append(out.Consumers, types.Consumer{
				ConsumerName: aws.String(c.name), ConsumerARN: aws.String(c.arn),
				ConsumerStatus: types.ConsumerStatusActive, ConsumerCreationTimestamp: aws.Time(c.created),
			})
		}
		s.mu.RUnlock()
		return out, nil
	})
}

// DeregisterStreamConsumer removes a consumer named by ConsumerARN, or by
// StreamARN and ConsumerName, at once; its subscriptions end with a
// ResourceNotFoundException event.
func (k *Kinesis) DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, _ ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error) {
	return serve(k, ctx, OpDeregisterStreamConsumer, in, func(*Call) (*kinesis.DeregisterStreamConsumerOutput, error) {
		s, c, err := k.findConsumer(in.ConsumerARN, in.StreamARN, in.ConsumerName)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.consumers[c.name] == c {
			delete(s.consumers, c.name)
		}
		c.deleted = true
		s.notify()
		return &kinesis.DeregisterStreamConsumerOutput{}, nil
	})
}

// subscription is one SubscribeToShard event stream.
type subscription struct {
	k       *Kinesis
	s       *stream
	sh      *shard
	c       *streamConsumer
	after   uint64
	sent    bool // an event was sent
	expires *time.Timer
	ends    time.Time // when expires fires
}

// subscribeToShard opens a subscription; the HTTP handler streams its events.
func (k *Kinesis) subscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput) (*subscription, error) {
	sub, err := serve(k, ctx, OpSubscribeToShard, in, func(*Call) (*subscription, error) { return k.subscribe(in) })
	if err == nil && sub.sh == nil {
		err = internalFailure("kinesistest: a control can answer SubscribeToShard only with an error")
	}
	return sub, err
}

func (k *Kinesis) subscribe(in *kinesis.SubscribeToShardInput) (*subscription, error) {
	s, c, err := k.findConsumer(in.ConsumerARN, nil, nil)
	if err != nil {
		return nil, err
	}
	if in.StartingPosition == nil {
		return nil, validation("1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null")
	}
	now := k.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deleted || c.deleted {
		return nil, notFound("Consumer %s under account %s not found.", c.arn, k.opts.AccountID)
	}
	id := aws.ToString(in.ShardId)
	sh := s.shardByID(id)
	if sh == nil || s.expired(sh, now) {
		return nil, notFound("Shard %s in stream %s under account %s does not exist", id, s.name, k.opts.AccountID)
	}
	if c.subs[sh.idx] != nil {
		return nil, inUse("Another active subscription exists for consumer %s on shard %s.", c.arn, sh.id)
	}
	if k.opts.Limits != nil {
		if last, ok := c.lastSub[sh.idx]; ok && now.Sub(last) < time.Second {
			k.throttled.Add(1)
			return nil, limitExceeded("Rate exceeded for consumer %s and shard %s: one SubscribeToShard call per second.", c.arn, sh.id)
		}
		c.lastSub[sh.idx] = now
	}
	p := in.StartingPosition
	after, err := k.startAfter(s, sh, types.ShardIteratorType(p.Type), p.SequenceNumber, p.Timestamp)
	if err != nil {
		return nil, err
	}
	sub := &subscription{k: k, s: s, sh: sh, c: c, after: after,
		expires: time.NewTimer(k.opts.SubscriptionDuration), ends: time.Now().Add(k.opts.SubscriptionDuration)}
	c.subs[sh.idx] = sub
	return sub, nil
}

// close ends the subscription, freeing its consumer and shard for the next.
func (sub *subscription) close() {
	sub.expires.Stop()
	sub.s.mu.Lock()
	if sub.c.subs[sub.sh.idx] == sub {
		delete(sub.c.subs, sub.sh.idx)
	}
	sub.s.mu.Unlock()
}

// next waits for the subscription's next event: records (paced by
// Limits.FanOutBytesPerSecond), the end of the shard (ChildShards, last), or a
// heartbeat without records. It returns a nil event when the subscription is
// over (Options.SubscriptionDuration passed, ctx ended, the server closed), and an
// error when the consumer or the stream went away.
func (sub *subscription) next(ctx context.Context) (ev *types.SubscribeToShardEvent, more bool, err error) {
	k, s, sh := sub.k, sub.s, sub.sh
	heartbeat := time.NewTimer(SubscriptionHeartbeat)
	defer heartbeat.Stop()
	beat := false
	for {
		now := k.now()
		budget := min(maxEventBytes, k.opts.MaxGetRecordsSize)
		if lim := k.opts.Limits; lim != nil {
			n, wait := sh.limiter.fanOutBudget(lim, sub.c.arn, now)
			if n == 0 {
				t := time.NewTimer(wait)
				_, over := sub.wait(ctx, nil, t.C)
				t.Stop()
				if over {
					return nil, false, nil
				}
				continue
			}
			budget = min(budget, n)
		}
		s.mu.RLock()
		if s.deleted || sub.c.deleted {
			s.mu.RUnlock()
			return nil, false, notFound("Consumer %s under account %s not found.", sub.c.arn, k.opts.AccountID)
		}
		b := s.read(sh, sub.after, maxEventRecords, budget, now)
		changed := s.changed
		var children []types.ChildShard
		if b.ended {
			children = s.children(sh)
		}
		s.mu.RUnlock()
		if len(b.records) > 0 || b.ended || !sub.sent || beat {
			ev := &types.SubscribeToShardEvent{
				Records:            b.records,
				MillisBehindLatest: aws.Int64(b.behind),
				ChildShards:        children,
			}
			if !b.ended {
				ev.ContinuationSequenceNumber = aws.String(sh.seq(b.next))
			}
			sub.after, sub.sent = b.next, true
			if k.opts.Limits != nil {
				sh.limiter.chargeFanOut(sub.c.arn, b.size)
			}
			k.recsRead.Add(int64(len(b.records)))
			k.bytesRead.Add(int64(b.size))
			return ev, !b.ended, nil
		}
		var over bool
		if beat, over = sub.wait(ctx, changed, heartbeat.C); over {
			return nil, false, nil
		}
	}
}

// wait blocks until wake or tick is ready (nil channels never are). It
// reports over when the subscription ended instead, and beat when tick fired.
func (sub *subscription) wait(ctx context.Context, wake <-chan struct{}, tick <-chan time.Time) (beat, over bool) {
	select {
	case <-wake:
		return false, false
	case <-tick:
		// A tick at the very end (a heartbeat due with the expiry) ends it.
		return true, !time.Now().Before(sub.ends)
	case <-sub.expires.C:
		return false, true
	case <-ctx.Done():
		return false, true
	case <-sub.k.done:
		return false, true
	}
}
