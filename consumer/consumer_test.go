package consumer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/kinesisfake"
)

func TestRunFailsFastWhenTheStreamDoesNotExist(t *testing.T) {
	fake := kinesisfake.New()
	c, err := New(fake, "missing", checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrStreamNotFound) {
		t.Errorf("Run: %v, want ErrStreamNotFound", err)
	}
}

func TestRunTwiceAtOnceIsRefused(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	started := make(chan struct{})
	var once sync.Once
	proc := &scriptedProcessor{init: func(context.Context, InitializeInput) error { once.Do(func() { close(started) }); return nil }}
	c, err := New(fake, stream, checkpoint.NewMemory(), func(string) RecordProcessor { return proc }, fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	stop := runConsumer(t, c)
	<-started // the first Run is processing
	if err := c.Run(context.Background()); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run: %v", err)
	}
	stop()
}

func TestRunReportsTheDeniedKinesisAction(t *testing.T) {
	fake, stream := newFakeStream(t, 1)
	fake.SetCallHook(func(ctx context.Context, op kinesisfake.Op, in any) error {
		if op == kinesisfake.OpListShards {
			return &types.AccessDeniedException{Message: aws.String("User: arn:aws:iam::1:user/x is not authorized to perform: kinesis:ListShards")}
		}
		return nil
	})
	c, err := New(fake, stream, checkpoint.NewMemory(), NewFunc(func(context.Context, string, []Record) error { return nil }), fastOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(context.Background())
	var ade *AccessDeniedError
	if !errors.Is(err, ErrAccessDenied) || !errors.As(err, &ade) || ade.Action != "kinesis:ListShards" || !strings.Contains(err.Error(), "kinesis:ListShards") {
		t.Errorf("Run: %v", err)
	}
}
