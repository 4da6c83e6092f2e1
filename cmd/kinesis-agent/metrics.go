package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// metricsServer serves the agent's OpenTelemetry metrics in the Prometheus text
// format on /metrics, collected on each scrape.
type metricsServer struct {
	provider *sdkmetric.MeterProvider
	reader   *sdkmetric.ManualReader
	srv      *http.Server
	addr     net.Addr
	done     chan struct{}
}

// meterProvider is where the agent's and the producers' metrics go: with an
// address, an OpenTelemetry SDK provider scraped on http://ADDR/metrics; without,
// the global provider (a no-op unless a build of the command installs one). stop
// ends the server.
func meterProvider(addr string, log *slog.Logger) (mp metric.MeterProvider, ms *metricsServer, err error) {
	if addr == "" {
		return otel.GetMeterProvider(), nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("metrics address %s: %w", addr, err)
	}
	ms = &metricsServer{reader: sdkmetric.NewManualReader(), addr: ln.Addr(), done: make(chan struct{})}
	ms.provider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(ms.reader))
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", ms.serve)
	ms.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(ms.done)
		if err := ms.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "err", err)
		}
	}()
	log.Info("metrics served", "url", "http://"+ms.addr.String()+"/metrics")
	return ms.provider, ms, nil
}

// stop shuts the server and the provider down and waits for the server.
func (ms *metricsServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ms.srv.Shutdown(ctx)
	<-ms.done
	_ = ms.provider.Shutdown(ctx)
}

func (ms *metricsServer) serve(w http.ResponseWriter, r *http.Request) {
	var rm metricdata.ResourceMetrics
	if err := ms.reader.Collect(r.Context(), &rm); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	writePrometheus(w, &rm)
}

// writePrometheus writes sums, gauges and histograms in the Prometheus text format:
// names with dots as underscores, attributes as labels.
func writePrometheus(w io.Writer, rm *metricdata.ResourceMetrics) {
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			name := promName(m.Name)
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				writeHeader(w, name, m.Description, sumType(d.IsMonotonic))
				for _, p := range d.DataPoints {
					writeSample(w, name, p.Attributes, "", float64(p.Value))
				}
			case metricdata.Sum[float64]:
				writeHeader(w, name, m.Description, sumType(d.IsMonotonic))
				for _, p := range d.DataPoints {
					writeSample(w, name, p.Attributes, "", p.Value)
				}
			case metricdata.Gauge[int64]:
				writeHeader(w, name, m.Description, "gauge")
				for _, p := range d.DataPoints {
					writeSample(w, name, p.Attributes, "", float64(p.Value))
				}
			case metricdata.Gauge[float64]:
				writeHeader(w, name, m.Description, "gauge")
				for _, p := range d.DataPoints {
					writeSample(w, name, p.Attributes, "", p.Value)
				}
			case metricdata.Histogram[int64]:
				writeHeader(w, name, m.Description, "histogram")
				for _, p := range d.DataPoints {
					writeHistogram(w, name, p.Attributes, p.Bounds, p.BucketCounts, float64(p.Sum), p.Count)
				}
			case metricdata.Histogram[float64]:
				writeHeader(w, name, m.Description, "histogram")
				for _, p := range d.DataPoints {
					writeHistogram(w, name, p.Attributes, p.Bounds, p.BucketCounts, p.Sum, p.Count)
				}
			}
		}
	}
}

func sumType(monotonic bool) string {
	if monotonic {
		return "counter"
	}
	return "gauge"
}

func promName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == ':' {
			return r
		}
		return '_'
	}, s)
}

func writeHeader(w io.Writer, name, help, typ string) {
	if help != "" {
		fmt.Fprintf(w, "# HELP %s %s\n", name, strings.ReplaceAll(help, "\n", " "))
	}
	fmt.Fprintf(w, "# TYPE %s %s\n", name, typ)
}

func labels(set attribute.Set, extra string) string {
	var parts []string
	for _, kv := range set.ToSlice() {
		parts = append(parts, promName(string(kv.Key))+"="+strconv.Quote(kv.Value.String()))
	}
	sort.Strings(parts)
	if extra != "" {
		parts = append(parts, extra)
	}
	if len(parts) == 0 {
		return ""
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func writeSample(w io.Writer, name string, set attribute.Set, extra string, v float64) {
	fmt.Fprintf(w, "%s%s %s\n", name, labels(set, extra), strconv.FormatFloat(v, 'g', -1, 64))
}

func writeHistogram(w io.Writer, name string, set attribute.Set, bounds []float64, counts []uint64, sum float64, count uint64) {
	var cum uint64
	for i, b := range bounds {
		cum += counts[i]
		writeSample(w, name+"_bucket", set, `le="`+strconv.FormatFloat(b, 'g', -1, 64)+`"`, float64(cum))
	}
	writeSample(w, name+"_bucket", set, `le="+Inf"`, float64(count))
	writeSample(w, name+"_sum", set, "", sum)
	writeSample(w, name+"_count", set, "", float64(count))
}
