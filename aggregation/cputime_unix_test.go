//go:build unix

package aggregation

import "syscall"

// processCPU returns the CPU time used by the process so far (user + system,
// all threads, so the garbage collector's work counts too) in nanoseconds.
func processCPU() (int64, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return ru.Utime.Nano() + ru.Stime.Nano(), true
}
