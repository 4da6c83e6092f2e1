package tail

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"testing/synctest"
	"time"
)

// FuzzLinesAcrossWrites writes data to a file in pieces (cuts decides where),
// letting the tailer poll between pieces: the records must be the data's lines,
// byte for byte and in order, whatever the chunk boundaries (partial lines, long
// lines cut to MaxRecordSize, multi-line records); a final line without newline
// is not sent while the file is in the pattern.
func FuzzLinesAcrossWrites(f *testing.F) {
	f.Add([]byte("a\nbb\nccc\n"), []byte{1, 2, 3}, false)
	f.Add([]byte("no newline at all"), []byte{5}, false)
	f.Add([]byte("start 1\n cont\nstart 2\n cont\n cont\nstart 3\n"), []byte{7, 1, 30}, true)
	f.Add(bytes.Repeat([]byte("x"), 200), []byte{50, 50}, false)
	f.Fuzz(func(t *testing.T, data, cuts []byte, multi bool) {
		if len(data) > 1<<16 || len(cuts) > 64 {
			return
		}
		maxRec := 64
		if multi { // cutting is specified for lines; records of many lines are not cut here
			maxRec = 1 << 20
		}
		synctest.Test(t, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "f.log")
			if err := os.WriteFile(path, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			s := &sink{}
			opts := Options{Pattern: path, MaxRecordSize: maxRec, Terminator: "~", PartialLineTimeout: time.Hour}
			if multi {
				opts.MultiLineStart = regexp.MustCompile(`^start`)
			}
			_, stop := run(t, s, nil, opts)
			defer stop()
			rest := data
			for _, c := range cuts {
				n := min(int(c), len(rest))
				appendFile(t, path, string(rest[:n]))
				rest = rest[n:]
				time.Sleep(150 * time.Millisecond)
				synctest.Wait()
			}
			appendFile(t, path, string(rest))
			time.Sleep(2 * time.Second)
			synctest.Wait()
			want := expectedRecords(data, maxRec, "~", multi)
			got := s.records()
			if len(got) != len(want) {
				t.Fatalf("got %d records %q, want %d %q", len(got), got, len(want), want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("record %d: got %q, want %q", i, got[i], want[i])
				}
			}
		})
	})
}

// expectedRecords is the specification: complete lines (grouped at start lines
// when multi; the last group stays open), each cut to maxRec with the terminator;
// a line too long is cut once and its rest dropped (single lines only).
func expectedRecords(data []byte, maxRec int, term string, multi bool) []string {
	var lines []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		lines = append(lines, string(data[:i+1]))
		data = data[i+1:]
	}
	cut := func(r string) string {
		if len(r) <= maxRec {
			return r
		}
		return r[:maxRec-len(term)] + term
	}
	partialTooLong := len(data) > maxRec
	var recs []string
	if !multi {
		for _, l := range lines {
			recs = append(recs, cut(l))
		}
		if partialTooLong {
			recs = append(recs, cut(string(data)))
		}
		return recs
	}
	start := regexp.MustCompile(`^start`)
	var cur string
	for _, l := range lines {
		if cur != "" && start.MatchString(l[:len(l)-1]) {
			recs = append(recs, cur)
			cur = ""
		}
		cur += l
	}
	return recs
}
