package agent

import (
	"context"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
)

// Serve runs an agent for the configuration load returns and, each time reload
// receives, stops it gracefully (positions saved) and starts one for the
// configuration load returns then. A new configuration that does not load or
// start is logged and the previous one goes on. Serve returns nil after ctx ended
// and the agent stopped gracefully, or the error that stopped it.
func Serve(ctx context.Context, load func() (*config.Config, error), reload <-chan struct{}, opts Options) error {
	cfg, err := load()
	if err != nil {
		return err
	}
	opts.Config = cfg
	a, err := New(ctx, opts)
	if err != nil {
		return err
	}
	logWarnings(opts, cfg)
	for {
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- a.Run(runCtx) }()
	wait:
		select {
		case <-ctx.Done():
			cancel()
			return <-done
		case err := <-done:
			cancel()
			return err
		case <-reload:
			log := opts.Logger
			if log == nil {
				log = a.log
			}
			next, err := load()
			if err != nil {
				log.Error("configuration not reloaded; going on with the running one", "err", err)
				goto wait
			}
			log.Info("reloading configuration", "config", next.File, "flows", len(next.Flows))
			cancel()
			if err := <-done; err != nil {
				log.Error("stopping for the reload", "err", err)
			}
			o := opts
			o.Config = next
			na, err := New(ctx, o)
			if err != nil {
				log.Error("new configuration does not start; going on with the previous one", "err", err)
				o.Config = cfg
				if na, err = New(ctx, o); err != nil {
					return err
				}
			} else {
				cfg = next
				logWarnings(o, next)
			}
			a = na
		}
	}
}

func logWarnings(opts Options, cfg *config.Config) {
	if opts.Logger == nil {
		return
	}
	for _, w := range cfg.Warnings {
		opts.Logger.Warn(w)
	}
}
