package jsonstr_test

import (
	"fmt"

	"github.com/kinesis-go/kinesis/internal/jsonstr"
)

func Example() {
	s := "tab\there, \"quoted\", <b>caf\u00e9</b>, bad \xff byte"
	out := jsonstr.Append([]byte(`{"msg":`), s)
	out = append(out, '}')
	fmt.Println(string(out))
	fmt.Println(jsonstr.Len(s) == len(jsonstr.Append(nil, s)))
	// Output:
	// {"msg":"tab\there, \"quoted\", <b>café</b>, bad � byte"}
	// true
}
