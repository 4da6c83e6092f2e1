// Package benchmarks compares this module with the other Go Kinesis libraries,
// in the same run on the same machine, and checks that each library's output is
// right so that a fast wrong answer cannot win. It is a separate module so that
// the libraries compared against never enter the main module's dependencies.
//
//   - BenchmarkProducer: our producer vs github.com/a8m/kinesis-producer through
//     the same fake Kinesis HTTP endpoint (kinesistest in a child process), with
//     TestProducerCorrectness and the lost-%/pk-rewritten-%/wrong-shard-% metrics
//     reading back and deaggregating what reached each shard.
//   - BenchmarkAggregation: producer-side aggregation per record against the
//     physical floor of this machine (MD5 of the key, the record's share of the
//     aggregate's MD5, one copy of the data).
//   - BenchmarkDeaggregate: vs github.com/awslabs/kinesis-aggregation/go/v2.
//   - BenchmarkConsumer and BenchmarkLeaseBalance: our consumer vs
//     github.com/vmware/vmware-go-kcl-v2, with leases in the local DynamoDB
//     emulator (internal/testbed; needs Node.js).
//
// `make bench` at the repository root runs everything at least 6 times and writes
// the results into BENCHMARKS.md (see internal/benchreport); BENCHMARKS.md also
// explains the setup and what could not be compared. One benchmark family:
//
//	cd benchmarks && go test -run '^$' -bench BenchmarkProducer -benchtime 1000000x -count 6
package benchmarks
