// Package testbed runs the local AWS emulators that the tests and the demo share:
// kinesis-mock (npm kinesis-local) for Kinesis and dynalite for DynamoDB, both bound to
// 127.0.0.1 on free ports, with ready aws-sdk-go-v2 clients.
//
// A test binary starts one emulator pair, lazily, the first time a test asks for it:
//
//	func TestMain(m *testing.M) { testbed.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		env := testbed.Get(t) // skips, or fails under CI=true, when the emulators cannot start
//		stream := env.CreateStream(t, 4)
//		...
//	}
//
// Tests isolate themselves with unique stream and table names (UniqueName). Every process
// the test bed starts is stopped when the test binary ends, also after a failed test, a
// panic or Ctrl-C: it runs in its own process group, is killed with it, and a preload
// script makes it exit when its parent goes away.
package testbed
