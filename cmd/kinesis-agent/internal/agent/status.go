package agent

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Status is the agent's progress: counters since start and the files now.
type Status struct {
	Records, BytesRead, Filtered, Invalid, Failures, Resent, Truncations, Pending int64
	// Files is the number of files tracked; Lag the bytes written to them and not
	// yet confirmed, in total, and per file for the files that lag most.
	Files int
	Lag   int64
	Laggy []FileLag
	Taken time.Time
}

// FileLag is how far a file's confirmed position is behind its size.
type FileLag struct {
	Path string
	Lag  int64
}

// Status returns the agent's current progress.
func (a *Agent) Status() Status {
	s := Status{Taken: time.Now()}
	for _, f := range a.flows {
		ts := f.tailer.Stats()
		s.Records += ts.Records
		s.BytesRead += ts.BytesRead
		s.Failures += ts.Failures
		s.Resent += ts.Resent
		s.Truncations += ts.Truncations
		s.Pending += ts.Pending
		s.Filtered += f.sink.filtered.Load()
		s.Invalid += f.sink.invalid.Load()
		s.Files += len(ts.Files)
		for _, fs := range ts.Files {
			lag := max(0, fs.Size-fs.Confirmed)
			s.Lag += lag
			if lag > 0 {
				s.Laggy = append(s.Laggy, FileLag{fs.Path, lag})
			}
		}
	}
	sort.Slice(s.Laggy, func(i, j int) bool { return s.Laggy[i].Lag > s.Laggy[j].Lag })
	if len(s.Laggy) > 5 {
		s.Laggy = s.Laggy[:5]
	}
	return s
}

func (a *Agent) statusLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.logStatus(a.cfg.StatusInterval)
		}
	}
}

// logStatus logs the status line: rates over the interval since the last one.
func (a *Agent) logStatus(interval time.Duration) {
	s := a.Status()
	prev := a.lastStatus
	a.lastStatus = s
	secs := s.Taken.Sub(prev.Taken).Seconds()
	if prev.Taken.IsZero() || secs <= 0 {
		secs = 1
	}
	var lag strings.Builder
	for i, l := range s.Laggy {
		if i > 0 {
			lag.WriteString(", ")
		}
		fmt.Fprintf(&lag, "%s=%d", l.Path, l.Lag)
	}
	attrs := []any{
		"lines_per_s", int64(float64(s.Records-prev.Records) / secs),
		"bytes_per_s", int64(float64(s.BytesRead-prev.BytesRead) / secs),
		"lines", s.Records, "pending", s.Pending, "filtered", s.Filtered,
		"failures", s.Failures, "resent", s.Resent, "files", s.Files, "lag_bytes", s.Lag,
	}
	if lag.Len() > 0 {
		attrs = append(attrs, "lag_by_file", lag.String())
	}
	if interval == 0 {
		attrs = append(attrs, "final", true)
	}
	a.log.Info("status", attrs...)
}

// registerMetrics exposes the agent's counters through OpenTelemetry, observed
// when the SDK collects (nothing is counted per line).
func (a *Agent) registerMetrics() error {
	m := a.opts.MeterProvider.Meter("github.com/kinesis-go/kinesis/cmd/kinesis-agent")
	lines, err1 := m.Int64ObservableCounter("kinesis_agent.lines", metric.WithDescription("Records sent to the producer, per flow"))
	bytesRead, err2 := m.Int64ObservableCounter("kinesis_agent.bytes_read", metric.WithUnit("By"), metric.WithDescription("Bytes read from files, per flow"))
	filtered, err3 := m.Int64ObservableCounter("kinesis_agent.lines_filtered", metric.WithDescription("Records dropped by processing options (LOGTOJSON non-matching lines), per flow"))
	failures, err4 := m.Int64ObservableCounter("kinesis_agent.write_failures", metric.WithDescription("Failed writes of records (each is sent again), per flow"))
	pending, err5 := m.Int64ObservableGauge("kinesis_agent.lines_pending", metric.WithDescription("Records sent and not yet confirmed, per flow"))
	lag, err6 := m.Int64ObservableGauge("kinesis_agent.lag", metric.WithUnit("By"), metric.WithDescription("Bytes in files not yet confirmed written, per flow"))
	files, err7 := m.Int64ObservableGauge("kinesis_agent.files", metric.WithDescription("Files tracked, per flow"))
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			return fmt.Errorf("agent metrics: %w", err)
		}
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, f := range a.flows {
			ts := f.tailer.Stats()
			attrs := metric.WithAttributes(attribute.String("flow", f.cfg.ID()), attribute.String("stream", f.cfg.KinesisStream))
			o.ObserveInt64(lines, ts.Records, attrs)
			o.ObserveInt64(bytesRead, ts.BytesRead, attrs)
			o.ObserveInt64(filtered, f.sink.filtered.Load(), attrs)
			o.ObserveInt64(failures, ts.Failures, attrs)
			o.ObserveInt64(pending, ts.Pending, attrs)
			var l int64
			for _, fs := range ts.Files {
				l += max(0, fs.Size-fs.Confirmed)
			}
			o.ObserveInt64(lag, l, attrs)
			o.ObserveInt64(files, int64(len(ts.Files)), attrs)
		}
		return nil
	}, lines, bytesRead, filtered, failures, pending, lag, files)
	if err != nil {
		return fmt.Errorf("agent metrics: %w", err)
	}
	a.metrics = reg
	return nil
}
