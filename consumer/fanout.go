package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/schemas"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/awserr"
)

// FanOutClient is the part of *kinesis.Client the consumer uses with RetrievalFanOut: the
// polling Client plus the enhanced fan-out calls. New checks that the client given to it
// implements it when Options.Retrieval is RetrievalFanOut.
type FanOutClient interface {
	Client
	RegisterStreamConsumer(ctx context.Context, in *kinesis.RegisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.RegisterStreamConsumerOutput, error)
	DescribeStreamConsumer(ctx context.Context, in *kinesis.DescribeStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DescribeStreamConsumerOutput, error)
	DeregisterStreamConsumer(ctx context.Context, in *kinesis.DeregisterStreamConsumerInput, optFns ...func(*kinesis.Options)) (*kinesis.DeregisterStreamConsumerOutput, error)
	SubscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput, optFns ...func(*kinesis.Options)) (*kinesis.SubscribeToShardOutput, error)
}

var _ FanOutClient = (*kinesis.Client)(nil)

// minSubscribeInterval keeps a shard within the service limit of one SubscribeToShard
// call per second per shard and consumer.
const minSubscribeInterval = time.Second

// consumerPollInterval is how often a registering consumer's status is checked.
const consumerPollInterval = 500 * time.Millisecond

// subscribeToShard opens one subscription: SubscribeToShard without the SDK's retries
// (the reader retries) and with its own event-stream codec.
func (c *Consumer) subscribeToShard(ctx context.Context, in *kinesis.SubscribeToShardInput) (*kinesis.SubscribeToShardEventStream, error) {
	out, err := c.fanOut.SubscribeToShard(ctx, in, awserr.NoKinesisRetry, ownEventStreamCodec)
	if err != nil {
		return nil, err
	}
	es := out.GetStream()
	if es == nil {
		return nil, errors.New("SubscribeToShard returned no event stream")
	}
	return es, nil
}

// ownEventStreamCodec gives one SubscribeToShard call its own protocol instance. The
// SDK's protocol (smithy-go v1.28.9 awsjson) keeps one event-stream decoder and payload
// buffer per client and uses it for every event stream of that client: concurrent
// subscriptions on one *kinesis.Client race on it (the race detector reports it), and
// events could be decoded into another subscription's buffer. A protocol per call keeps
// each subscription's decoding to itself.
func ownEventStreamCodec(o *kinesis.Options) {
	o.Protocol = awsjson.New11(schemas.Kinesis_20131202)
}

// registerConsumer registers the stream consumer Options.ConsumerName (or finds the
// existing one) and waits until it is ACTIVE; it returns its ARN.
func (c *Consumer) registerConsumer(ctx context.Context, streamARN string) (string, error) {
	fc := c.fanOut
	name := c.opts.ConsumerName
	r := retrier{
		base: retryBase, max: c.opts.MaxRetryBackoff,
		permanent: func(err error) bool { return errors.Is(err, ErrAccessDenied) || errors.Is(err, ErrStreamNotFound) },
		onRetry: func(attempt int, delay time.Duration, err error) {
			c.log.Warn("registering the stream consumer failed; retrying", "consumer", name, "attempt", attempt, "delay", delay, "error", err)
		},
	}
	for {
		var arn string
		var status types.ConsumerStatus
		err := r.do(ctx, func(int) error {
			var err error
			arn, status, err = c.registerOrFind(ctx, streamARN)
			return err
		})
		if err != nil {
			return "", err
		}
		// Wait for ACTIVE. A consumer being deleted (DELETING) is registered again once gone.
		for status != types.ConsumerStatusActive {
			if status == types.ConsumerStatusDeleting {
				break
			}
			if !sleep(ctx, consumerPollInterval) {
				return "", ctx.Err()
			}
			d, err := fc.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{ConsumerARN: aws.String(arn)})
			switch {
			case err == nil:
				status = d.ConsumerDescription.ConsumerStatus
			case awserr.IsNotFound(err):
				status = types.ConsumerStatusDeleting
			case awserr.Code(err) == awserr.CodeAccessDenied:
				return "", c.kinesisError("kinesis:DescribeStreamConsumer", err)
			case ctx.Err() != nil:
				return "", ctx.Err()
			default:
				c.log.Warn("describing the stream consumer failed; retrying", "consumer", name, "error", err)
			}
		}
		if status == types.ConsumerStatusActive {
			return arn, nil
		}
		c.log.Info("the stream consumer is being deleted; registering it again", "consumer", name)
		if !sleep(ctx, consumerPollInterval) {
			return "", ctx.Err()
		}
	}
}

// registerOrFind registers the stream consumer, or finds it when it was registered
// before (by an earlier run or another worker); it returns its ARN and status.
func (c *Consumer) registerOrFind(ctx context.Context, streamARN string) (string, types.ConsumerStatus, error) {
	name := aws.String(c.opts.ConsumerName)
	reg, err := c.fanOut.RegisterStreamConsumer(ctx, &kinesis.RegisterStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: name})
	switch {
	case err == nil && reg.Consumer != nil:
		arn := aws.ToString(reg.Consumer.ConsumerARN)
		c.log.Info("stream consumer registered", "consumer", c.opts.ConsumerName, "consumerARN", arn)
		return arn, reg.Consumer.ConsumerStatus, nil
	case err == nil:
		return "", "", errors.New("RegisterStreamConsumer returned no consumer")
	case awserr.Code(err) != awserr.CodeResourceInUse:
		return "", "", c.kinesisError("kinesis:RegisterStreamConsumer", err)
	}
	d, err := c.fanOut.DescribeStreamConsumer(ctx, &kinesis.DescribeStreamConsumerInput{StreamARN: aws.String(streamARN), ConsumerName: name})
	if err != nil {
		return "", "", c.kinesisError("kinesis:DescribeStreamConsumer", err)
	}
	return aws.ToString(d.ConsumerDescription.ConsumerARN), d.ConsumerDescription.ConsumerStatus, nil
}

func (w *worker) currentConsumerARN() string {
	w.arnLock <- struct{}{}
	defer func() { <-w.arnLock }()
	return w.consumerARN
}

// reregister registers the stream consumer again after stale was found deleted, unless
// another shard did already. Shards that subscribe meanwhile wait for it.
func (w *worker) reregister(ctx context.Context, stale string) {
	w.arnLock <- struct{}{}
	defer func() { <-w.arnLock }()
	if w.consumerARN != stale {
		return
	}
	arn, err := w.c.registerConsumer(ctx, w.streamARN)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Error("registering the stream consumer again failed; will retry", "error", err)
		}
		return
	}
	w.consumerARN = arn
}

// deregisterConsumer deregisters the stream consumer (Options.DeregisterOnShutdown).
func (c *Consumer) deregisterConsumer(ctx context.Context, arn string) {
	if _, err := c.fanOut.DeregisterStreamConsumer(ctx, &kinesis.DeregisterStreamConsumerInput{ConsumerARN: aws.String(arn)}); err != nil {
		c.log.Warn("deregistering the stream consumer failed; it stays registered (and billed) until deregistered", "consumerARN", arn, "error", err)
		return
	}
	c.log.Info("stream consumer deregistered", "consumerARN", arn)
}

// startingPosition is where a subscription starts: after the continuation sequence
// number of the previous subscription, or where the shard started.
func (s *shard) startingPosition(cont string) *types.StartingPosition {
	switch {
	case cont != "":
		return &types.StartingPosition{Type: types.ShardIteratorTypeAfterSequenceNumber, SequenceNumber: aws.String(cont)}
	case s.start.SequenceNumber == checkpoint.TrimHorizon:
		return &types.StartingPosition{Type: types.ShardIteratorTypeTrimHorizon}
	case s.start.SequenceNumber == checkpoint.Latest:
		return &types.StartingPosition{Type: types.ShardIteratorTypeLatest}
	case s.start.SequenceNumber == checkpoint.AtTimestamp:
		return &types.StartingPosition{Type: types.ShardIteratorTypeAtTimestamp, Timestamp: aws.Time(s.w.opts.InitialTimestamp)}
	default:
		return &types.StartingPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: aws.String(s.start.SequenceNumber)}
	}
}

// subscribe is the fan-out reader: it subscribes to the shard and sends batches to out
// (bounded like read's) until the shard ends or ctx ends. A subscription that ends (after
// 5 minutes) or fails is renewed from its last continuation sequence number. Each
// subscription is one attempt of a retrier.do: a failed SubscribeToShard call waits a
// backoff from minSubscribeInterval, a subscription that broke one from retryBase, and
// one that delivered events before it broke starts the count again.
func (s *shard) subscribe(ctx context.Context, out chan<- batch) {
	var (
		cont     string // continuation sequence number of the last event
		lastCall time.Time
	)
	skip := s.start
	if skip.IsSentinel() {
		skip = checkpoint.ExtendedSequenceNumber{}
	}
	m := s.w.m
	health := readHealth{s: s}
	maxBackoff := s.w.opts.MaxRetryBackoff
	r := retrier{
		max:       maxBackoff,
		permanent: func(err error) bool { return errors.Is(err, errShardGone) },
		delay: func(attempt int, err error) time.Duration {
			if _, ok := errors.AsType[subscriptionError](err); ok {
				return awserr.Backoff(attempt, retryBase, maxBackoff)
			}
			return awserr.Backoff(attempt, minSubscribeInterval, maxBackoff)
		},
		onRetry: func(attempt int, delay time.Duration, err error) {
			if se, ok := errors.AsType[subscriptionError](err); ok {
				s.log.Warn("subscription failed; subscribing again after the last event", "after", cont, "attempt", attempt, "delay", delay, "error", se.error)
			}
		},
	}
	for ctx.Err() == nil {
		var ended bool
		err := r.do(ctx, func(attempt int) error {
			if wait := time.Until(lastCall.Add(minSubscribeInterval)); wait > 0 && !sleep(ctx, wait) {
				return ctx.Err()
			}
			lastCall = time.Now()
			arn := s.w.currentConsumerARN()
			es, err := s.w.c.subscribeToShard(ctx, &kinesis.SubscribeToShardInput{
				ConsumerARN:      aws.String(arn),
				ShardId:          aws.String(s.id),
				StartingPosition: s.startingPosition(cont),
			})
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				m.subscribe.Add(ctx, 1, s.subAttrs[1])
				health.failed("SubscribeToShard", err)
				return s.subscribeFailed(ctx, attempt, arn, err)
			}
			m.subscribe.Add(ctx, 1, s.subAttrs[0])
			var got bool
			ended, got, err = s.consumeEvents(ctx, es, &cont, &skip, out)
			_ = es.Close()
			if ended || ctx.Err() != nil {
				return nil
			}
			if got {
				health.succeeded()
			}
			if err != nil {
				health.failed("SubscribeToShard", err)
				m.subscriptionErrors.Add(ctx, 1, s.attrs)
				if got {
					return afterProgress{subscriptionError{err}}
				}
				return subscriptionError{err}
			}
			s.log.Debug("subscription ended; subscribing again", "after", cont)
			return nil
		})
		if errors.Is(err, errShardGone) {
			endGone(ctx, out)
			return
		}
		if err != nil || ended {
			return
		}
	}
}

// subscriptionError is the failure of a subscription after SubscribeToShard succeeded.
type subscriptionError struct{ error }

func (e subscriptionError) Unwrap() error { return e.error }

// subscribeFailed logs a failed SubscribeToShard call (attempt of the current series)
// and acts on it: a consumer that no longer exists is registered again; a shard that no
// longer exists ends the reader (errShardGone). It returns the error to retry.
func (s *shard) subscribeFailed(ctx context.Context, attempt int, arn string, err error) error {
	code := awserr.Code(err)
	switch {
	case code == awserr.CodeResourceInUse:
		// The previous subscription (ours, or the former owner's) is still open, or the
		// last call was less than 5 s ago: wait and try again.
		s.log.Debug("SubscribeToShard: subscription in use; retrying", "attempt", attempt, "error", err)
	case code == awserr.CodeResourceNotFound && s.gone(ctx):
		s.log.Error("shard no longer exists (trimmed after the retention period before it was processed); ending it", "error", err)
		return errShardGone
	case code == awserr.CodeResourceNotFound:
		// The shard exists, so the stream consumer is gone: deregistered from outside (or
		// by a worker of this application with DeregisterOnShutdown).
		s.log.Warn("SubscribeToShard: the stream consumer no longer exists; registering it again", "consumerARN", arn, "error", err)
		s.w.reregister(ctx, arn)
	case code == awserr.CodeAccessDenied:
		s.log.Error("SubscribeToShard denied", "error", s.w.c.kinesisError("kinesis:SubscribeToShard", err))
	case awserr.IsThrottle(err):
		s.log.Debug("SubscribeToShard throttled; backing off", "attempt", attempt, "error", err)
	default:
		s.log.Warn("SubscribeToShard failed; retrying", "attempt", attempt, "error", err)
	}
	return err
}

// consumeEvents reads one subscription's events into batches until it ends. ended: the
// shard ended (its last batch was sent); got: at least one event arrived; err: the
// subscription's error (nil when it ended normally).
func (s *shard) consumeEvents(ctx context.Context, es *kinesis.SubscribeToShardEventStream, cont *string, skip *checkpoint.ExtendedSequenceNumber, out chan<- batch) (ended, got bool, err error) {
	events := es.Events()
	for {
		var ev types.SubscribeToShardEventStream
		var ok bool
		select {
		case <-ctx.Done():
			return false, got, ctx.Err()
		case ev, ok = <-events:
		}
		if !ok {
			return false, got, es.Err()
		}
		e, isEvent := ev.(*types.SubscribeToShardEventStreamMemberSubscribeToShardEvent)
		if !isEvent {
			continue // a newer event type this SDK does not know
		}
		got = true
		v := &e.Value
		millis := aws.ToInt64(v.MillisBehindLatest)
		s.w.m.millisBehind.Record(ctx, millis, s.attrs)
		b := batch{millisBehind: millis}
		if len(v.Records) > 0 {
			b.records, b.bytes = s.convert(v.Records, skip)
		}
		if v.ContinuationSequenceNumber == nil || *v.ContinuationSequenceNumber == "" {
			b.end, b.children = true, v.ChildShards
		} else {
			*cont = *v.ContinuationSequenceNumber
		}
		if len(b.records) > 0 || b.end {
			// Blocks while the processor is behind: the event stream is not read, so the
			// SDK's reader blocks and the transport's flow control holds the rest.
			select {
			case out <- b:
			case <-ctx.Done():
				return false, got, ctx.Err()
			}
		}
		if b.end {
			return true, got, nil
		}
	}
}

// fanOutError wraps a registration failure for Run.
func fanOutError(stream string, err error) error {
	return fmt.Errorf("consumer: enhanced fan-out consumer for stream %q: %w", stream, err)
}
