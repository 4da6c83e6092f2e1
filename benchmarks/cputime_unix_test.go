//go:build unix

package benchmarks

import "syscall"

// processCPU returns the user plus system CPU time this process has used, in
// nanoseconds, across all its threads (the garbage collector included).
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
