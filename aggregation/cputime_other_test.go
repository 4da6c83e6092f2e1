//go:build !unix

package aggregation

func processCPU() (int64, bool) { return 0, false }
