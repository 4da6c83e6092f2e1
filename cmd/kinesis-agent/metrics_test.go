package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

func TestMetricsEndpoint(t *testing.T) {
	mp, ms, err := meterProvider("127.0.0.1:0", slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer ms.stop()
	m := mp.Meter("test")
	c, err := m.Int64Counter("kinesis_agent.lines", metric.WithDescription("Lines"))
	require.NoError(t, err)
	c.Add(context.Background(), 3, metric.WithAttributes(attribute.String("flow", `/var/log/*.log -> "s"`)))
	h, err := m.Float64Histogram("BufferingTime")
	require.NoError(t, err)
	h.Record(context.Background(), 7)

	resp, err := http.Get("http://" + ms.addr.String() + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "# TYPE kinesis_agent_lines counter\n")
	assert.Contains(t, string(body), `kinesis_agent_lines{flow="/var/log/*.log -> \"s\""} 3`+"\n")
	assert.Contains(t, string(body), `BufferingTime_bucket{le="10"} 1`+"\n")
	assert.Contains(t, string(body), "BufferingTime_count 1\n")
}
