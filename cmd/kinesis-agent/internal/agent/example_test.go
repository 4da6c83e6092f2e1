package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/agent"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
	"github.com/kinesis-go/kinesis/kinesistest"
)

// An agent shipping one file to an in-process fake Kinesis; the command builds a
// *kinesis.Client from the configuration instead.
func Example() {
	logs, _ := os.MkdirTemp("", "agent-logs")
	state, _ := os.MkdirTemp("", "agent-state")
	defer os.RemoveAll(logs)
	defer os.RemoveAll(state)
	_ = os.WriteFile(filepath.Join(logs, "app.log"), []byte("hello\nworld\n"), 0o644)

	srv, err := kinesistest.Start() // an in-process Kinesis; in a test: kinesistest.NewServer(t)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	if err := srv.CreateStream("logs", 1); err != nil {
		panic(err)
	}
	fake := srv.Client()
	cfg, err := config.Parse("agent.json", []byte(`{"statusIntervalMillis": -1, "flows": [{
		"filePattern": "`+logs+`/*.log", "kinesisStream": "logs", "initialPosition": "START_OF_FILE"}]}`))
	if err != nil {
		panic(err)
	}
	a, err := agent.New(context.Background(), agent.Options{Config: cfg, StateDir: state, Client: fake,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- a.Run(ctx) }()
	for a.Status().Records < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel() // as SIGTERM: flush, save positions
	fmt.Println(<-done, a.Positions()[0].Offset)
	// Output: <nil> 12
}
