package stocktrade

import (
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/kinesis-go/kinesis/checkpoint"
)

// The flags the three commands share, defined and checked once.

// addAWSFlags defines -region and -endpoint (every command).
func addAWSFlags(fs *flag.FlagSet, region, endpoint *string) {
	fs.StringVar(region, "region", "", "AWS region (default: from the AWS configuration)")
	fs.StringVar(endpoint, "endpoint", "", "Kinesis endpoint URL for local emulators (default: real AWS)")
}

// consumingFlags are the flags of a command that consumes the stream as a KCL
// application: its name (the lease table), where AWS is and where a new application
// starts reading.
type consumingFlags struct {
	app, region, endpoint, dynamoDBEndpoint, initialPosition *string
}

// add defines -app, -region, -endpoint, -dynamodb-endpoint and -initial-position with
// the command's defaults; who names the application's users in the help text.
func (f consumingFlags) add(fs *flag.FlagSet, defaultApp, defaultPosition, who string) {
	fs.StringVar(f.app, "app", defaultApp, "application name: the DynamoDB lease table shared by all workers of the "+who)
	addAWSFlags(fs, f.region, f.endpoint)
	fs.StringVar(f.dynamoDBEndpoint, "dynamodb-endpoint", "", "DynamoDB endpoint URL for local emulators (default: real AWS)")
	fs.StringVar(f.initialPosition, "initial-position", defaultPosition, "where a new "+who+" starts reading: LATEST or TRIM_HORIZON")
}

// check upper-cases -initial-position and checks it and that the endpoints come in a pair.
func (f consumingFlags) check() error {
	*f.initialPosition = strings.ToUpper(*f.initialPosition)
	if p := *f.initialPosition; p != checkpoint.Latest && p != checkpoint.TrimHorizon {
		return fmt.Errorf("-initial-position must be LATEST or TRIM_HORIZON, got %q", p)
	}
	if (*f.endpoint == "") != (*f.dynamoDBEndpoint == "") {
		return errors.New("pass both -endpoint and -dynamodb-endpoint for local emulators, or neither for AWS")
	}
	return nil
}

// parseFlags parses args, which must hold flags only.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	return nil
}
