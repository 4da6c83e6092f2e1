package agent

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/process"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
	"github.com/kinesis-go/kinesis/producer"
)

// Options configure an Agent.
type Options struct {
	// Config is the parsed configuration. Required.
	Config *config.Config
	// StateDir holds the positions file. Required.
	StateDir string
	// Endpoint overrides the configuration's kinesis.endpoint (the -endpoint flag).
	Endpoint string
	// Client, when set, is used for every stream instead of a *kinesis.Client built
	// from the configuration (tests and benchmarks use an in-process fake).
	Client producer.Client
	// Logger receives the agent's logs. Default slog.Default().
	Logger *slog.Logger
	// MeterProvider receives the agent's and the producers' metrics. Default no-op.
	MeterProvider metric.MeterProvider
}

// MaxRecordSize is the largest record the agent sends: a Kinesis record (1 MiB)
// less room for the partition key.
const MaxRecordSize = 1<<20 - 1024

// Agent runs the flows of one configuration.
type Agent struct {
	opts      Options
	cfg       *config.Config
	log       *slog.Logger
	store     *tail.Store
	foreign   []tail.Position // saved positions of flows not in this configuration
	producers map[string]*producer.Producer
	flows     []*flow
	metrics   metric.Registration

	saveMu    sync.Mutex
	lastSaved []tail.Position

	lastStatus Status // of the previous status line (status goroutine, then Run)
}

type flow struct {
	cfg    *config.Flow
	tailer *tail.Tailer
	sink   *flowSink
	prod   *producer.Producer
}

// New validates the options, loads the saved positions and builds the producers
// and tailers. It does no network I/O.
func New(ctx context.Context, opts Options) (*Agent, error) {
	if opts.Config == nil || len(opts.Config.Flows) == 0 {
		return nil, errors.New("agent: Options.Config with at least one flow is required")
	}
	if opts.StateDir == "" {
		return nil, errors.New("agent: Options.StateDir is required (-state DIR)")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = noop.NewMeterProvider()
	}
	a := &Agent{opts: opts, cfg: opts.Config, log: opts.Logger, producers: map[string]*producer.Producer{}}
	var err error
	if a.store, err = tail.NewStore(opts.StateDir); err != nil {
		return nil, err
	}
	saved, err := a.store.Load()
	if err != nil {
		return nil, err
	}
	ids := map[string]bool{}
	for i := range a.cfg.Flows {
		ids[a.cfg.Flows[i].ID()] = true
	}
	for _, p := range saved {
		if !ids[p.Flow] {
			a.foreign = append(a.foreign, p)
		}
	}
	client := opts.Client
	if client == nil {
		if client, err = newKinesisClient(ctx, a.cfg, opts.Endpoint); err != nil {
			return nil, err
		}
	}
	if err := a.newProducers(client); err != nil {
		a.closeProducers(context.Background())
		return nil, err
	}
	seed := maphash.Comparable(maphash.MakeSeed(), time.Now().UnixNano())
	for i := range a.cfg.Flows {
		fc := &a.cfg.Flows[i]
		chain, err := process.NewChain(fc.DataProcessingOptions)
		if err != nil {
			a.closeProducers(context.Background())
			return nil, fmt.Errorf("%s: flows[%d]: %w", a.cfg.File, i, err)
		}
		f := &flow{cfg: fc, prod: a.producers[fc.KinesisStream]}
		f.sink = &flowSink{p: f.prod, chain: chain, keys: process.NewKeyPicker(fc, seed+uint64(i)),
			maxRecord: MaxRecordSize, terminator: fc.TruncatedRecordTerminator, log: a.log.With("flow", fc.ID())}
		f.tailer, err = tail.New(f.sink, saved, tail.Options{
			Flow: fc.ID(), Pattern: fc.FilePattern, FromEnd: fc.InitialPosition == "END_OF_FILE",
			PollInterval: fc.PollInterval, RefreshInterval: fc.RefreshInterval,
			PartialLineTimeout: fc.PartialLineTimeout, SkipHeaderLines: fc.SkipHeaderLines,
			MultiLineStart: fc.MultiLineStartPattern, MaxRecordSize: MaxRecordSize,
			Terminator: fc.TruncatedRecordTerminator, RetryInitialBackoff: fc.RetryInitialBackoff,
			RetryMaxBackoff: fc.RetryMaxBackoff, Logger: a.log,
		})
		if err != nil {
			a.closeProducers(context.Background())
			return nil, fmt.Errorf("%s: flows[%d]: %w", a.cfg.File, i, err)
		}
		a.flows = append(a.flows, f)
	}
	if err := a.registerMetrics(); err != nil {
		a.closeProducers(context.Background())
		return nil, err
	}
	return a, nil
}

// newProducers makes one producer per stream, with the tightest batching any of
// the stream's flows asks for.
func (a *Agent) newProducers(client producer.Client) error {
	for i := range a.cfg.Flows {
		fc := &a.cfg.Flows[i]
		if _, ok := a.producers[fc.KinesisStream]; ok {
			continue
		}
		age, count, size := fc.MaxBufferAge, fc.MaxBufferSizeRecords, fc.MaxBufferSizeBytes
		for j := range a.cfg.Flows {
			if o := &a.cfg.Flows[j]; o.KinesisStream == fc.KinesisStream {
				age, count, size = min(age, o.MaxBufferAge), min(count, o.MaxBufferSizeRecords), min(size, o.MaxBufferSizeBytes)
			}
		}
		p, err := producer.New(client, fc.KinesisStream, func(o *producer.Options) {
			o.DisableAggregation = !a.cfg.Aggregation
			o.RecordMaxBufferedTime = age
			o.CollectionMaxCount = count
			o.CollectionMaxSize = size
			o.MaxBufferedBytes = a.cfg.MaxBufferedBytes
			o.MaxConnections = a.cfg.MaxConnections
			o.RecordTTL = a.cfg.RecordTTL
			o.Logger = a.log
			o.MeterProvider = a.opts.MeterProvider
		})
		if err != nil {
			return fmt.Errorf("%s: producer for stream %s: %w", a.cfg.File, fc.KinesisStream, err)
		}
		a.producers[fc.KinesisStream] = p
	}
	return nil
}

func (a *Agent) closeProducers(ctx context.Context) {
	var wg sync.WaitGroup
	for name, p := range a.producers {
		wg.Go(func() {
			if err := p.Close(ctx); err != nil {
				a.log.Warn("producer did not write everything before the shutdown timeout; those lines are sent again at the next start",
					"stream", name, "err", err)
			}
		})
	}
	wg.Wait()
}

// newKinesisClient builds the Kinesis client from the SDK's default configuration
// and the agent's region, credentials, role and endpoint.
func newKinesisClient(ctx context.Context, cfg *config.Config, endpoint string) (*kinesis.Client, error) {
	var loadOpts []func(*awsconfig.LoadOptions) error
	if endpoint == "" {
		endpoint = cfg.KinesisEndpoint
	}
	region := cfg.Region
	if region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(region))
	}
	if cfg.AccessKeyID != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		if endpoint == "" {
			return nil, errors.New("no AWS region: set kinesis.region in the configuration or AWS_REGION")
		}
		awsCfg.Region = "us-east-1" // a local endpoint does not care
	}
	if cfg.AssumeRoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(awsCfg), cfg.AssumeRoleARN, func(o *stscreds.AssumeRoleOptions) {
			if cfg.AssumeRoleExternalID != "" {
				o.ExternalID = aws.String(cfg.AssumeRoleExternalID)
			}
		})
		awsCfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return kinesis.NewFromConfig(awsCfg, func(o *kinesis.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

// Run reads and sends until ctx ends, then stops gracefully: reading stops, the
// producers write what they hold (within ShutdownTimeout), and the positions are
// saved. It returns nil after a graceful stop, or the error that stopped it.
func (a *Agent) Run(ctx context.Context) error {
	defer func() {
		if a.metrics != nil {
			_ = a.metrics.Unregister()
		}
	}()
	a.log.Info("kinesis-agent started", "config", a.cfg.File, "flows", len(a.flows), "state", a.opts.StateDir)
	tailCtx, stopTailers := context.WithCancel(ctx)
	defer stopTailers()
	var tailers sync.WaitGroup
	for _, f := range a.flows {
		tailers.Go(func() { _ = f.tailer.Run(tailCtx) })
	}

	bg, stopBG := context.WithCancel(context.Background())
	var bgDone sync.WaitGroup
	bgDone.Go(func() { a.checkpointLoop(bg) })
	if a.cfg.StatusInterval > 0 {
		bgDone.Go(func() { a.statusLoop(bg) })
	}

	<-ctx.Done()
	start := time.Now()
	a.log.Info("stopping: writing what was read, then saving positions", "timeout", a.cfg.ShutdownTimeout)
	stopTailers()
	tailers.Wait()
	closeCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	a.closeProducers(closeCtx)
	cancel()
	stopBG()
	bgDone.Wait()
	err := a.save()
	a.logStatus(0)
	a.log.Info("kinesis-agent stopped", "took", time.Since(start).Round(time.Millisecond))
	return err
}

// Positions returns the confirmed positions of every flow (and the saved ones of
// flows not in this configuration).
func (a *Agent) Positions() []tail.Position {
	ps := slices.Clone(a.foreign)
	for _, f := range a.flows {
		ps = append(ps, f.tailer.Positions()...)
	}
	return ps
}

// save writes the positions if they changed since the last save.
func (a *Agent) save() error {
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	ps := a.Positions()
	slices.SortFunc(ps, comparePositions)
	if a.lastSaved != nil && slices.Equal(ps, a.lastSaved) {
		return nil
	}
	if err := a.store.Save(ps); err != nil {
		a.log.Error("saving positions failed; retrying at the next interval", "err", err)
		return err
	}
	a.lastSaved = ps
	return nil
}

func comparePositions(x, y tail.Position) int {
	switch {
	case x.Flow != y.Flow:
		if x.Flow < y.Flow {
			return -1
		}
		return 1
	case x.Dev != y.Dev:
		if x.Dev < y.Dev {
			return -1
		}
		return 1
	case x.Ino != y.Ino:
		if x.Ino < y.Ino {
			return -1
		}
		return 1
	}
	return 0
}

func (a *Agent) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.CheckpointInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = a.save()
		}
	}
}
