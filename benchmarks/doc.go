// Package benchmarks compares this module's aggregation package with other Go
// implementations of the KPL format. It is a separate module so that the
// libraries compared against never enter the main module's dependencies.
//
//	cd benchmarks && go test -run=^$ -bench=. -benchmem
package benchmarks
