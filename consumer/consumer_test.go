package consumer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/kinesis-go/kinesis/checkpoint"
	"github.com/kinesis-go/kinesis/internal/testbed"
	"github.com/kinesis-go/kinesis/kinesistest"
)

func TestRunFailsFastWhenTheStreamDoesNotExist(t *testing.T) {
	fake := kinesistest.NewServer(t).Kinesis()
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
	fake.Control(kinesistest.OpListShards, func(c *kinesistest.Call) (any, error, bool) {
		c.KeepControl()
		return nil, &types.AccessDeniedException{Message: aws.String("User: arn:aws:iam::1:user/x is not authorized to perform: kinesis:ListShards")}, true
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

// A mistyped stream name must not leave an orphan lease table behind: Run checks the
// stream before it creates the table.
func TestRunOnAMissingStreamCreatesNoLeaseTable(t *testing.T) {
	env := emulators(t)
	store := newStore(t, env)
	c, err := New(env.Kinesis(), testbed.UniqueName("no-such-stream"), store, NewFunc(func(context.Context, string, []Record) error { return nil }), testOptions(t, "w1")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background()); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("Run: %v, want ErrStreamNotFound", err)
	}
	_, err = env.DynamoDB().DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(store.TableName())})
	var notFound *ddbtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("DescribeTable of the lease table after Run failed: %v; want ResourceNotFoundException (no table created)", err)
	}
}
