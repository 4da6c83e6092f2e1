package tail_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/tail"
)

// printSink prints each record, acknowledges it at once, and counts it on sent.
type printSink struct{ sent chan struct{} }

func (s *printSink) Send(_ context.Context, rec []byte, ack *tail.Ack) error {
	fmt.Printf("%q\n", rec)
	ack.Done(nil)
	s.sent <- struct{}{}
	return nil
}

func Example() {
	dir, _ := os.MkdirTemp("", "tail-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "app.log"), []byte("first\nsecond\npartial"), 0o644)

	sink := &printSink{sent: make(chan struct{}, 10)}
	t, err := tail.New(sink, nil, tail.Options{Flow: "example", Pattern: filepath.Join(dir, "*.log"), PollInterval: 10 * time.Millisecond})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = t.Run(ctx); close(done) }()
	<-sink.sent
	<-sink.sent
	cancel()
	<-done
	fmt.Println("confirmed offset:", t.Positions()[0].Offset)
	// Output:
	// "first\n"
	// "second\n"
	// confirmed offset: 13
}
