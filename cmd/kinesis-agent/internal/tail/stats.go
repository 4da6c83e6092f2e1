package tail

import (
	"sort"
	"sync"
	"sync/atomic"
)

type counters struct {
	records, bytesRead, skipped, truncatedRecords atomic.Int64
	failures, resent, truncations, lost           atomic.Int64

	mu         sync.Mutex
	compressed map[string]bool
}

// noteCompressed remembers a skipped compressed file; true the first time.
func (c *counters) noteCompressed(path string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.compressed == nil {
		c.compressed = map[string]bool{}
	}
	if c.compressed[path] {
		return false
	}
	if len(c.compressed) > 10000 {
		clear(c.compressed)
	}
	c.compressed[path] = true
	return true
}

// Stats are a tailer's counters since it started, and its files now.
type Stats struct {
	// Records counts records sent; BytesRead the bytes read from files.
	Records, BytesRead int64
	// Skipped counts header lines skipped; TruncatedRecords records cut to size.
	Skipped, TruncatedRecords int64
	// Failures counts failed writes (each is sent again); Resent the records sent again.
	Failures, Resent int64
	// Truncations counts files found truncated; Lost saved files not found again.
	Truncations, Lost int64
	// Pending is records sent and not yet acknowledged.
	Pending int64
	// Files are the tracked files.
	Files []FileStats
}

// FileStats is the progress in one file.
type FileStats struct {
	Path string
	// Size is the file's size at the last poll; Read how far it was read; Confirmed
	// how far its records were written. Lag is Size - Confirmed.
	Size, Read, Confirmed int64
	// Active is false for a file that left the pattern (renamed, deleted).
	Active bool
}

// Stats returns the tailer's counters and files.
func (t *Tailer) Stats() Stats {
	s := Stats{
		Records: t.stats.records.Load(), BytesRead: t.stats.bytesRead.Load(),
		Skipped: t.stats.skipped.Load(), TruncatedRecords: t.stats.truncatedRecords.Load(),
		Failures: t.stats.failures.Load(), Resent: t.stats.resent.Load(),
		Truncations: t.stats.truncations.Load(), Lost: t.stats.lost.Load(),
	}
	t.mu.Lock()
	for _, f := range t.files {
		s.Pending += f.pending.Load()
		s.Files = append(s.Files, FileStats{Path: f.path, Size: f.statSize.Load(), Read: f.statRead.Load(), Confirmed: f.confirmed.Load(), Active: f.active})
	}
	t.mu.Unlock()
	sort.Slice(s.Files, func(i, j int) bool { return s.Files[i].Path < s.Files[j].Path })
	return s
}
