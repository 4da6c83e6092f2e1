package process_test

import (
	"fmt"

	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/config"
	"github.com/kinesis-go/kinesis/cmd/kinesis-agent/internal/process"
)

func ExampleChain_Apply() {
	chain, err := process.NewChain([]config.ProcessingOption{{Name: config.LogToJSON, LogFormat: config.Syslog}})
	if err != nil {
		panic(err)
	}
	out, ok := chain.Apply([]byte("Mar  1 12:00:01 myhost sshd[1234]: Accepted publickey for ubuntu\n"))
	fmt.Print(string(out), ok, "\n")
	_, ok = chain.Apply([]byte("not syslog\n"))
	fmt.Println(ok)
	// Output:
	// {"timestamp":"Mar  1 12:00:01","hostname":"myhost","program":"sshd","processid":"1234","message":"Accepted publickey for ubuntu"}
	// true
	// false
}
