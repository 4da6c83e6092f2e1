package deadletter

import (
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestMain(m *testing.M) { testbed.Main(m) }
