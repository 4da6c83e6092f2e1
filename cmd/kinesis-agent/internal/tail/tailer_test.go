package tail

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sink records what it is sent. By default it acknowledges at once; hold keeps
// the acks for the test to release; fail makes the first n sends fail.
type sink struct {
	mu   sync.Mutex
	recs []string
	held []*Ack
	hold bool
	fail int
}

func (s *sink) Send(_ context.Context, rec []byte, a *Ack) error {
	s.mu.Lock()
	if s.hold {
		s.recs = append(s.recs, string(rec))
		s.held = append(s.held, a)
		s.mu.Unlock()
		return nil
	}
	if s.fail > 0 {
		s.fail--
		s.mu.Unlock()
		a.Done(errors.New("injected failure"))
		return nil
	}
	s.recs = append(s.recs, string(rec))
	s.mu.Unlock()
	a.Done(nil)
	return nil
}

func (s *sink) records() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.recs...)
}

func (s *sink) release(n int) {
	s.mu.Lock()
	held := s.held[:n]
	s.held = s.held[n:]
	s.mu.Unlock()
	for _, a := range held {
		a.Done(nil)
	}
}

var quiet = slog.New(slog.DiscardHandler)

// run starts a tailer in a synctest bubble's goroutine; stop ends it and waits.
func run(t *testing.T, s Sink, saved []Position, opts Options) (tl *Tailer, stop func()) {
	t.Helper()
	if opts.Flow == "" {
		opts.Flow = "flow"
	}
	opts.Logger = quiet
	tl, err := New(s, saved, opts)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = tl.Run(ctx)
	}()
	return tl, func() { cancel(); <-done }
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(data)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func lines(prefix string, from, to int) (all string, each []string) {
	var b strings.Builder
	for i := from; i < to; i++ {
		l := fmt.Sprintf("%s line %04d %s\n", prefix, i, strings.Repeat("x", i%37))
		b.WriteString(l)
		each = append(each, l)
	}
	return b.String(), each
}

// settle lets the fake clock run long enough for polls, refreshes and timeouts.
func settle() { time.Sleep(10 * time.Second); synctest.Wait() }

func TestLinesAreRecordsByteForByte(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		all, want := lines("a", 0, 500)
		appendFile(t, path, all+"partial without newline")
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: filepath.Join(dir, "*.log")})
		defer stop()
		settle()
		assert.Equal(t, want, s.records(), "the partial last line of an active file waits for its newline")
		appendFile(t, path, " finished\n")
		settle()
		assert.Equal(t, append(want, "partial without newline finished\n"), s.records())
	})
}

func TestStartsAtEndOfExistingFilesOnFirstRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "old 1\nold 2\nhalf")
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: path, FromEnd: true})
		defer stop()
		settle()
		appendFile(t, path, " done\nnew\n")
		settle()
		assert.Equal(t, []string{"half done\n", "new\n"}, s.records())
	})
}

func TestPositionsAdvanceOnlyOverAcknowledgedRecordsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "one\n")
		s := &sink{hold: true}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle()
		appendFile(t, path, "two\n")
		settle()
		require.Len(t, s.records(), 2)
		pos := func() int64 { return tl.Positions()[0].Offset }
		assert.Equal(t, int64(0), pos())
		// Acknowledge the second record first: the position must not move.
		s.mu.Lock()
		s.held[1].Done(nil)
		s.held = s.held[:1]
		s.mu.Unlock()
		assert.Equal(t, int64(0), pos())
		s.release(1)
		assert.Equal(t, int64(8), pos())
	})
}

func TestFailedRecordsAreSentAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "a\nb\n")
		s := &sink{fail: 3}
		tl, stop := run(t, s, nil, Options{Pattern: path, RetryInitialBackoff: time.Second})
		defer stop()
		settle()
		settle()
		assert.ElementsMatch(t, []string{"a\n", "b\n"}, s.records())
		assert.Equal(t, int64(4), tl.Positions()[0].Offset)
		assert.Equal(t, int64(3), tl.Stats().Failures)
	})
}

func TestRenameRotationOutOfPattern(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		all1, want1 := lines("first", 0, 100)
		appendFile(t, path, all1)
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle()
		// The writer still appends to the renamed file before it reopens.
		require.NoError(t, os.Rename(path, path+".1"))
		late, wantLate := lines("late", 0, 10)
		appendFile(t, path+".1", late+"unterminated")
		all2, want2 := lines("second", 0, 50)
		appendFile(t, path, all2)
		settle()
		settle()
		want := append(append(append(want1, wantLate...), "unterminated"), want2...)
		assert.ElementsMatch(t, want, s.records(), "the renamed file is read to its end, its last line sent after the timeout")
		assert.Len(t, s.records(), len(want))
		assert.Len(t, tl.Positions(), 1, "the rotated file is closed and forgotten once done")
	})
}

func TestCopyTruncate(t *testing.T) {
	for _, inPattern := range []bool{false, true} {
		t.Run(fmt.Sprintf("copy_in_pattern=%v", inPattern), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				dir := t.TempDir()
				path := filepath.Join(dir, "app.log")
				pattern := path
				if inPattern {
					pattern = path + "*"
				}
				all1, want1 := lines("first", 0, 100)
				appendFile(t, path, all1)
				s := &sink{}
				_, stop := run(t, s, nil, Options{Pattern: pattern})
				defer stop()
				settle()
				// Lines written just before the copy, not read yet.
				more, wantMore := lines("more", 0, 20)
				appendFile(t, path, more)
				data, err := os.ReadFile(path)
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(path+".1", data, 0o644))
				require.NoError(t, os.Truncate(path, 0))
				all2, want2 := lines("second", 0, 30)
				appendFile(t, path, all2)
				settle()
				settle()
				want := append(append(want1, wantMore...), want2...)
				assert.ElementsMatch(t, want, s.records())
				assert.Len(t, s.records(), len(want), "nothing twice")
			})
		})
	}
}

func TestTruncateAndRefillBetweenPolls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		all1, want1 := lines("first", 0, 10)
		appendFile(t, path, all1)
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle()
		// Refilled with more than before: only the first bytes tell.
		all2, want2 := lines("second", 0, 40)
		require.NoError(t, os.WriteFile(path, []byte(all2), 0o644))
		settle()
		assert.Equal(t, append(want1, want2...), s.records())
		assert.Equal(t, int64(1), tl.Stats().Truncations)
	})
}

func TestDeletedFileIsReadToItsEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "before\n")
		w, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle()
		require.NoError(t, os.Remove(path))
		_, err = w.WriteString("after delete\n")
		require.NoError(t, err)
		require.NoError(t, w.Close())
		settle()
		assert.Equal(t, []string{"before\n", "after delete\n"}, s.records())
		assert.Empty(t, tl.Positions())
	})
}

func TestCompressedFilesAreSkipped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "plain\n")
		f, err := os.Create(filepath.Join(dir, "app.log.2"))
		require.NoError(t, err)
		zw := gzip.NewWriter(f)
		_, _ = io.WriteString(zw, "zipped\n")
		require.NoError(t, zw.Close())
		require.NoError(t, f.Close())
		require.NoError(t, os.WriteFile(filepath.Join(dir, "app.log.3.gz"), []byte("not even gzip\n"), 0o644))
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: path + "*"})
		defer stop()
		settle()
		assert.Equal(t, []string{"plain\n"}, s.records())
	})
}

// After a restart, a file renamed out of the pattern while the agent was down is
// found by inode in the same directory and read on from its saved position.
func TestResumeFindsRenamedFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "one\ntwo\n")
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		settle()
		saved := tl.Positions()
		stop()
		require.Len(t, saved, 1)
		assert.Equal(t, int64(8), saved[0].Offset)

		appendFile(t, path, "three\n")
		require.NoError(t, os.Rename(path, path+".1"))
		appendFile(t, path, "new one\n")
		s2 := &sink{}
		_, stop2 := run(t, s2, saved, Options{Pattern: path, FromEnd: true})
		defer stop2()
		settle()
		assert.ElementsMatch(t, []string{"three\n", "new one\n"}, s2.records(),
			"FromEnd applies only without saved positions")
	})
}

func TestResumeAfterCopyTruncateWhileDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "one\ntwo\n")
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path})
		settle()
		saved := tl.Positions()
		stop()

		appendFile(t, path, "three\n")
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path+".1", data, 0o644))
		require.NoError(t, os.Truncate(path, 0))
		appendFile(t, path, "four\n")
		s2 := &sink{}
		_, stop2 := run(t, s2, saved, Options{Pattern: path})
		defer stop2()
		settle()
		assert.ElementsMatch(t, []string{"three\n", "four\n"}, s2.records())
	})
}

func TestMultiLineRecordsAndHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "#header\n2026 first\n  at a\n  at b\n2026 second\n")
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: path, SkipHeaderLines: 1, MultiLineStart: regexp.MustCompile(`^\d{4} `)})
		defer stop()
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, []string{"2026 first\n  at a\n  at b\n"}, s.records(), "the open record waits for the next start line")
		settle()
		assert.Equal(t, []string{"2026 first\n  at a\n  at b\n", "2026 second\n"}, s.records(), "or for the timeout")
	})
}

func TestLongLinesAreCut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		long := strings.Repeat("y", 300<<10)
		appendFile(t, path, "short\n"+long+"\nafter\n")
		s := &sink{}
		tl, stop := run(t, s, nil, Options{Pattern: path, MaxRecordSize: 100 << 10, Terminator: "…\n"})
		defer stop()
		settle()
		got := s.records()
		require.Len(t, got, 3)
		assert.Equal(t, "short\n", got[0])
		assert.Equal(t, strings.Repeat("y", 100<<10-len("…\n"))+"…\n", got[1])
		assert.Equal(t, "after\n", got[2])
		assert.Equal(t, int64(len("short\n"+long+"\nafter\n")), tl.Positions()[0].Offset)
	})
}

func TestStoreRoundTrip(t *testing.T) {
	st, err := NewStore(filepath.Join(t.TempDir(), "state"))
	require.NoError(t, err)
	got, err := st.Load()
	require.NoError(t, err)
	assert.Empty(t, got)
	ps := []Position{{Flow: "f", Path: "/a", FileID: FileID{1, 2}, FingerprintLen: 3, Fingerprint: 4, Offset: 5}}
	require.NoError(t, st.Save(ps))
	got, err = st.Load()
	require.NoError(t, err)
	assert.Equal(t, ps, got)
	require.NoError(t, os.WriteFile(filepath.Join(st.dir, positionsFile), []byte("{"), 0o600))
	_, err = st.Load()
	assert.ErrorContains(t, err, "move it away")
}

// A writer may append to its renamed log for a while before it reopens it: a
// quiet file that leaves the pattern is kept open for PartialLineTimeout from then.
func TestLateWritesToRenamedQuietFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "early\n")
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle() // the file is quiet for long
		require.NoError(t, os.Rename(path, path+".1"))
		time.Sleep(1500 * time.Millisecond) // a refresh saw it leave the pattern
		appendFile(t, path+".1", "late\n")
		settle()
		assert.Equal(t, []string{"early\n", "late\n"}, s.records())
	})
}

// A new empty log (logrotate's "create") is followed by inode from the start, even
// while it has no bytes to fingerprint: rotated again before its first line, it is
// still read when its writer appends to it under the new name.
func TestEmptyNewFileRotatedBeforeItsFirstLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "app.log")
		appendFile(t, path, "first file\n")
		s := &sink{}
		_, stop := run(t, s, nil, Options{Pattern: path})
		defer stop()
		settle()
		require.NoError(t, os.Rename(path, path+".1"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		time.Sleep(1500 * time.Millisecond)
		require.NoError(t, os.Rename(path, path+".2"))
		require.NoError(t, os.WriteFile(path, nil, 0o644))
		appendFile(t, path+".2", "late line of the second file\n")
		appendFile(t, path, "third file\n")
		settle()
		assert.ElementsMatch(t, []string{"first file\n", "late line of the second file\n", "third file\n"}, s.records())
	})
}
