// Package agent runs the kinesis-agent: a tail.Tailer per flow feeding a
// producer.Producer per stream through the flow's processing options, file
// positions saved in the state directory every CheckpointInterval and at shutdown,
// a status line, and OpenTelemetry metrics.
//
// Run returns when its context ends, after a graceful stop: reading stops, the
// producers flush (within the configuration's ShutdownTimeout), and the positions
// of everything written are saved, so that a restart sends nothing twice. Serve
// adds configuration reloads on a signal (SIGHUP in the command).
package agent
