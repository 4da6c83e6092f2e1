package consumer

import (
	"testing"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

func TestMain(m *testing.M) {
	if runHelperIfAsked() {
		return
	}
	testbed.Main(m)
}
