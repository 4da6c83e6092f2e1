//go:build !unix

package consumer

// cpuSeconds is 0 where the process's CPU time is not read: benchmarks then report no
// CPU figures.
func cpuSeconds() float64 { return 0 }
