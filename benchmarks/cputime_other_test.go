//go:build !unix

package benchmarks

// processCPU is not available here: the cpu-ns metrics are then not reported.
func processCPU() (int64, bool) { return 0, false }
