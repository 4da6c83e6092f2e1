package main

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
)

// meterProvider is where the agent's and the producers' metrics go: the global
// OpenTelemetry provider (a no-op unless a build of the command installs one).
func meterProvider(context.Context, *slog.Logger) metric.MeterProvider {
	return otel.GetMeterProvider()
}
