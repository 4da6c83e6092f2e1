package testbed_test

import (
	"context"
	"fmt"
	"log"

	"github.com/kinesis-go/kinesis/internal/testbed"
)

// Start runs both emulators outside of a test binary, as the demo does; Close stops them.
// (Not run by go test: it needs Node.js.)
func ExampleStart() {
	ctx := context.Background()
	env, err := testbed.Start(ctx, testbed.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer env.Close()
	if err := env.CreateStreamNamed(ctx, "StockTradeStream", 4); err != nil {
		log.Fatal(err)
	}
	fmt.Println("Kinesis at", env.KinesisEndpoint, "DynamoDB at", env.DynamoDBEndpoint)
}
