package sink

import (
	"io"
	"log/slog"
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

var discardLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestMain(m *testing.M) {
	if runWorkerIfAsked() {
		return
	}
	testbed.Main(m)
}
