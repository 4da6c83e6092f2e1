package tail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sink receives a flow's records, in file order per file.
type Sink interface {
	// Send hands over one record and its Ack. It may block (back-pressure: reading
	// stops meanwhile) until ctx ends; an error means the record was not taken and
	// the Ack will not be called. rec is valid until ack.Done(nil).
	Send(ctx context.Context, rec []byte, ack *Ack) error
}

// Options configure a Tailer. Zero values are the documented defaults.
type Options struct {
	// Flow names the flow in positions and logs. Required.
	Flow string
	// Pattern is the absolute glob (filepath.Match syntax, in any path element) of
	// the files to read. Required.
	Pattern string
	// FromEnd starts the files found at the first refresh at their end (at the end of
	// their last complete line) when there are no saved positions for the flow.
	// Files found later are read from their start.
	FromEnd bool
	// PollInterval is how often open files are read. Default 100 ms.
	PollInterval time.Duration
	// RefreshInterval is how often the pattern is matched again. Default 1 s.
	RefreshInterval time.Duration
	// PartialLineTimeout is how long an unterminated last line of a file that left
	// the pattern (renamed, deleted) waits for its newline before it is sent as it
	// is, and how long a multi-line record waits for its next line. The last line of
	// a file still matched always waits for its newline. Default 5 s; negative: 0.
	PartialLineTimeout time.Duration
	// SkipHeaderLines lines are skipped at the start of each file.
	SkipHeaderLines int
	// MultiLineStart, when set, starts a record at each line matching it; other
	// lines belong to the record before them.
	MultiLineStart *regexp.Regexp
	// MaxRecordSize is the largest record; longer ones are cut and end with
	// Terminator. Default 1 MiB - 256 (a Kinesis record with its partition key).
	MaxRecordSize int
	// Terminator ends a cut record. Default "\n".
	Terminator string
	// RetryInitialBackoff and RetryMaxBackoff space the new attempts of a record
	// whose write failed. Defaults 1 s and 10 s.
	RetryInitialBackoff, RetryMaxBackoff time.Duration
	// Logger receives rotation events (debug), lost files and failures (warn).
	// Default slog.Default().
	Logger *slog.Logger
}

// Tailer reads the files of one flow and sends their records to a Sink. It saves
// nothing itself: Positions returns the confirmed progress to save.
type Tailer struct {
	opts Options
	sink Sink
	log  *slog.Logger

	mu    sync.Mutex // guards files and the paths in them
	files map[FileID]*file
	saved []Position // positions to resume, used by the first refresh
	first bool       // no refresh yet

	retryMu sync.Mutex
	retries []*Ack
	wake    chan struct{}

	stats counters
}

// ErrNoInodes is returned by New on systems without inode numbers.
var ErrNoInodes = errors.New("tail: files have no device and inode numbers on this system")

// New returns a tailer for a flow, resuming from the flow's saved positions.
func New(sink Sink, saved []Position, opts Options) (*Tailer, error) {
	if opts.Flow == "" || opts.Pattern == "" {
		return nil, errors.New("tail: Options.Flow and Options.Pattern are required")
	}
	if !filepath.IsAbs(opts.Pattern) {
		return nil, fmt.Errorf("tail: pattern %q is not an absolute path", opts.Pattern)
	}
	if _, err := filepath.Match(opts.Pattern, ""); err != nil {
		return nil, fmt.Errorf("tail: pattern %q: %w", opts.Pattern, err)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 100 * time.Millisecond
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Second
	}
	if opts.PartialLineTimeout == 0 {
		opts.PartialLineTimeout = 5 * time.Second
	} else if opts.PartialLineTimeout < 0 {
		opts.PartialLineTimeout = 0
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = 1<<20 - 256
	}
	if opts.Terminator == "" {
		opts.Terminator = "\n"
	}
	if len(opts.Terminator) >= opts.MaxRecordSize {
		return nil, fmt.Errorf("tail: terminator of %d bytes does not fit records of %d", len(opts.Terminator), opts.MaxRecordSize)
	}
	if opts.RetryInitialBackoff <= 0 {
		opts.RetryInitialBackoff = time.Second
	}
	if opts.RetryMaxBackoff < opts.RetryInitialBackoff {
		opts.RetryMaxBackoff = max(10*time.Second, opts.RetryInitialBackoff)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var mine []Position
	for _, p := range saved {
		if p.Flow == opts.Flow {
			mine = append(mine, p)
		}
	}
	return &Tailer{
		opts: opts, sink: sink, log: opts.Logger.With("flow", opts.Flow),
		files: map[FileID]*file{}, saved: mine, first: true,
		wake: make(chan struct{}, 1),
	}, nil
}

// Run reads until ctx ends, then closes the files and returns nil. Records already
// sent still get their acks afterwards (Positions keeps counting them).
func (t *Tailer) Run(ctx context.Context) error {
	defer t.closeAll()
	t.refresh()
	poll := time.NewTimer(0)
	defer poll.Stop()
	nextRefresh := time.Now().Add(t.opts.RefreshInterval)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-poll.C:
		case <-t.wake:
		}
		if !time.Now().Before(nextRefresh) {
			t.refresh()
			nextRefresh = time.Now().Add(t.opts.RefreshInterval)
		}
		more, err := t.pollOnce(ctx)
		if err != nil {
			return nil //nolint:nilerr // only ctx errors stop sending: the caller ended ctx
		}
		if err := t.sendRetries(ctx); err != nil {
			return nil //nolint:nilerr // as above
		}
		if more {
			poll.Reset(0)
		} else {
			poll.Reset(t.opts.PollInterval)
		}
	}
}

func (t *Tailer) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.files {
		_ = f.fd.Close()
	}
}

// pollOnce reads every open file once; more reports that some file has more to read.
func (t *Tailer) pollOnce(ctx context.Context) (more bool, err error) {
	t.mu.Lock()
	files := make([]*file, 0, len(t.files))
	for _, f := range t.files {
		files = append(files, f)
	}
	t.mu.Unlock()
	for _, f := range files {
		m, err := t.read(ctx, f)
		if err != nil {
			return false, err
		}
		more = more || m
		if !f.active && !m {
			t.maybeClose(f)
		}
	}
	return more, nil
}

// perPollBudget bounds what one file is read per poll, so that one busy file does
// not starve the others.
const perPollBudget = 1 << 20

// read reads what file f has beyond readOff and sends its records.
func (t *Tailer) read(ctx context.Context, f *file) (more bool, err error) {
	fi, err := f.fd.Stat()
	if err != nil {
		t.log.Warn("stat failed", "path", f.path, "err", err)
		return false, nil
	}
	size, mtime := fi.Size(), fi.ModTime()
	if !linked(fi) && f.active {
		t.mu.Lock()
		f.active = false
		t.mu.Unlock()
		f.grewAt = time.Now()
		t.log.Debug("file deleted; reading it to its end", "path", f.path)
	}
	changed := size != f.size || !mtime.Equal(f.mtime)
	f.size, f.mtime = size, mtime
	f.statSize.Store(size)
	if f.undecided {
		if !changed {
			return false, nil
		}
		start := t.decide(f, size)
		if f.undecided {
			return false, nil
		}
		f.readOff = start
		f.confirmed.Store(start)
		f.statRead.Store(start)
		if start > 0 {
			f.header = 0
		}
	}
	if changed && t.truncated(f, size) {
		t.restartTruncated(f)
		return true, nil
	}
	now := time.Now()
	budget := perPollBudget
	for f.readOff < size && budget > 0 {
		buf := getBuf()
		*buf = append((*buf)[:0], f.carry...)
		want := min(chunkSize, int(size-f.readOff))
		if cap(*buf)-len(*buf) < want {
			*buf = slices.Grow(*buf, want)
		}
		n, rerr := f.fd.ReadAt((*buf)[len(*buf):len(*buf)+want], f.readOff)
		if n <= 0 {
			putBuf(buf)
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				t.log.Warn("read failed", "path", f.path, "err", rerr)
			}
			break
		}
		// A truncation (and refill) under our feet shows in the first bytes: then what
		// was just read may belong to the new content, and is read again from 0.
		if t.truncated(f, -1) {
			putBuf(buf)
			t.restartTruncated(f)
			return true, nil
		}
		*buf = (*buf)[:len(*buf)+n]
		f.readOff += int64(n)
		f.statRead.Store(f.readOff)
		budget -= n
		f.grewAt = now
		t.extendFingerprint(f)
		if err := t.split(ctx, f, buf); err != nil {
			return false, err
		}
		t.stats.bytesRead.Add(int64(n))
	}
	if f.readOff < size {
		return true, nil
	}
	return false, t.flushCarry(ctx, f, now)
}

// truncated reports whether f's content was replaced: smaller than what was read
// (size < 0: not known), or other first bytes.
func (t *Tailer) truncated(f *file, size int64) bool {
	if size >= 0 && size < f.readOff {
		return true
	}
	if len(f.fp) == 0 {
		return false
	}
	head := make([]byte, len(f.fp))
	n, _ := f.fd.ReadAt(head, 0)
	return !bytes.Equal(head[:n], f.fp)
}

// extendFingerprint grows the fingerprint to FingerprintSize as the file grows.
func (t *Tailer) extendFingerprint(f *file) {
	if len(f.fp) >= FingerprintSize || int64(len(f.fp)) >= f.size {
		return
	}
	head := make([]byte, min(FingerprintSize, f.size))
	n, _ := f.fd.ReadAt(head, 0)
	if n > len(f.fp) && bytes.Equal(head[:len(f.fp)], f.fp) {
		t.mu.Lock()
		f.fp = head[:n]
		t.mu.Unlock()
	}
}

// restartTruncated handles a file whose content was replaced (copytruncate, or
// truncate and write): a copy of the old content in the same directory is read on
// from where f was, and the file itself is read again from its start as a new
// generation.
func (t *Tailer) restartTruncated(old *file) {
	t.log.Info("file truncated; reading it again from its start", "path", old.path, "read", old.readOff)
	t.stats.truncations.Add(1)
	if c := t.findCopy(old); c != nil {
		t.log.Info("found the copy of the truncated file; reading it on from the same offset",
			"path", old.path, "copy", c.path, "offset", c.readOff)
	}
	t.mu.Lock()
	// The same descriptor reads the new content: same inode.
	nf := &file{t: t, fd: old.fd, id: old.id, path: old.path, active: old.active, grewAt: time.Now(),
		header: t.opts.SkipHeaderLines}
	old.gone = true
	t.files[old.id] = nf
	t.mu.Unlock()
}

// findCopy looks in old's directory for an untracked file starting with old's
// first bytes and at least as long as what was read of old: the copy that
// copytruncate made. It is then tracked (inactive unless the pattern matches it)
// and read from old's offset.
func (t *Tailer) findCopy(old *file) *file {
	from := old.sentOff()
	if len(old.fp) == 0 || from == 0 {
		return nil
	}
	entries, err := os.ReadDir(filepath.Dir(old.path))
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(filepath.Dir(old.path), e.Name())
		fd, err := os.Open(path)
		if err != nil {
			continue
		}
		fi, err := fd.Stat()
		id, ok := idOf(fi)
		t.mu.Lock()
		_, tracked := t.files[id]
		t.mu.Unlock()
		if err != nil || !ok || tracked || id == old.id || fi.Size() < from || compressed(path, fd) {
			_ = fd.Close()
			continue
		}
		head := make([]byte, len(old.fp))
		n, _ := fd.ReadAt(head, 0)
		if n != len(old.fp) || !bytes.Equal(head, old.fp) {
			_ = fd.Close()
			continue
		}
		c := &file{t: t, fd: fd, id: id, path: path, fp: head, readOff: from,
			active: t.matches(path), grewAt: time.Now()}
		c.confirmed.Store(from)
		t.mu.Lock()
		t.files[id] = c
		t.mu.Unlock()
		return c
	}
	return nil
}

func (t *Tailer) matches(path string) bool {
	ok, _ := filepath.Match(t.opts.Pattern, path)
	return ok
}

// split cuts the records out of buf (carry + new bytes), sends them as one batch
// and keeps the unfinished tail in f.carry.
func (t *Tailer) split(ctx context.Context, f *file, buf *[]byte) error {
	data := *buf
	b := &batch{f: f, buf: buf}
	b.refs.Store(1)
	var sendErr error
	send := func(rec []byte) {
		if sendErr != nil {
			return
		}
		sendErr = t.send(ctx, b, rec)
	}
	pos := 0   // start of the next line to look at
	start := 0 // start of the open record (multi-line)
	if f.carryLines > 0 {
		pos = f.carryLines
	}
	for pos < len(data) {
		i := bytes.IndexByte(data[pos:], '\n')
		if i < 0 {
			break
		}
		line := data[pos : pos+i+1]
		if f.discarding { // the rest of a line cut at the size limit
			f.discarding = false
			pos += i + 1
			start = pos
			continue
		}
		if f.header > 0 {
			f.header--
			pos += i + 1
			start = pos
			t.stats.skipped.Add(1)
			continue
		}
		if t.opts.MultiLineStart == nil {
			send(t.limit(f, line))
			pos += i + 1
			start = pos
			continue
		}
		if pos > start && t.opts.MultiLineStart.Match(line[:len(line)-1]) {
			send(t.limit(f, data[start:pos]))
			start = pos
		}
		pos += i + 1
	}
	if pos-start > t.opts.MaxRecordSize { // a multi-line record that does not end
		send(t.limit(f, data[start:pos]))
		start = pos
	}
	// What is left: an open multi-line record (complete lines from start to pos) and
	// a partial line (pos to the end).
	rest := data[start:]
	if len(rest)-(pos-start) > t.opts.MaxRecordSize && !f.discarding { // a partial line already too long
		if pos > start {
			send(t.limit(f, data[start:pos]))
			start = pos
			rest = data[start:]
		}
		send(t.limit(f, rest))
		f.discarding = true
		start = len(data)
		pos = len(data)
		rest = nil
	} else if f.discarding {
		start, pos, rest = len(data), len(data), nil
	}
	f.carry = append(f.carry[:0], rest...)
	f.carryLines = pos - start
	b.end = f.readOff - int64(len(f.carry))
	return t.seal(b, sendErr)
}

// limit cuts a record longer than MaxRecordSize, ending it with the terminator.
func (t *Tailer) limit(f *file, rec []byte) []byte {
	if len(rec) <= t.opts.MaxRecordSize {
		return rec
	}
	t.stats.truncatedRecords.Add(1)
	t.log.Warn("record cut to the record size limit", "path", f.path, "size", len(rec), "limit", t.opts.MaxRecordSize)
	cut := make([]byte, 0, t.opts.MaxRecordSize)
	cut = append(cut, rec[:t.opts.MaxRecordSize-len(t.opts.Terminator)]...)
	return append(cut, t.opts.Terminator...)
}

func (t *Tailer) send(ctx context.Context, b *batch, rec []byte) error {
	a := &Ack{b: b, rec: rec}
	b.refs.Add(1)
	b.f.pending.Add(1)
	if err := t.sink.Send(ctx, rec, a); err != nil {
		b.refs.Add(-1)
		b.f.pending.Add(-1)
		return err
	}
	t.stats.records.Add(1)
	return nil
}

// seal queues the batch for confirmation and drops the filling reference. After a
// failed Send the batch is never completed: its records were not all sent.
func (t *Tailer) seal(b *batch, sendErr error) error {
	if sendErr != nil {
		return sendErr
	}
	b.f.ackMu.Lock()
	b.f.batches = append(b.f.batches, b)
	b.f.ackMu.Unlock()
	b.release()
	return nil
}

// flushCarry sends what waits in f.carry once the file has not grown for
// PartialLineTimeout: an open multi-line record always, a partial line only when
// the file left the pattern (nobody will finish it at that name).
func (t *Tailer) flushCarry(ctx context.Context, f *file, now time.Time) error {
	if len(f.carry) == 0 || now.Sub(f.grewAt) < t.opts.PartialLineTimeout {
		return nil
	}
	n := f.carryLines
	if !f.active {
		n = len(f.carry)
	}
	if n == 0 {
		return nil
	}
	buf := getBuf()
	*buf = append((*buf)[:0], f.carry[:n]...)
	b := &batch{f: f, buf: buf}
	b.refs.Store(1)
	err := t.send(ctx, b, t.limit(f, *buf))
	f.carry = append(f.carry[:0], f.carry[n:]...)
	f.carryLines = 0
	b.end = f.readOff - int64(len(f.carry))
	return t.seal(b, err)
}

// maybeClose closes a file that left the pattern once it was read to its end,
// nothing of it waits (partial line included) and it has been quiet for
// PartialLineTimeout; it is then forgotten (and its position no longer saved).
func (t *Tailer) maybeClose(f *file) {
	if f.gone || f.readOff < f.size || len(f.carry) > 0 || time.Since(f.grewAt) < t.opts.PartialLineTimeout || !f.idle() {
		return
	}
	t.log.Debug("done with file that left the pattern", "path", f.path, "offset", f.readOff)
	t.mu.Lock()
	if t.files[f.id] == f {
		delete(t.files, f.id)
	}
	f.gone = true
	t.mu.Unlock()
	_ = f.fd.Close()
}

// refresh matches the pattern: new files are opened, renamed ones followed, and
// files no longer matched marked inactive (read to their end, then closed).
func (t *Tailer) refresh() {
	paths, err := filepath.Glob(t.opts.Pattern)
	if err != nil {
		t.log.Warn("match pattern", "err", err)
		return
	}
	first := t.first
	if first {
		t.first = false
		t.resume()
	}
	seen := map[FileID]bool{}
	for _, path := range paths {
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		id, ok := idOf(fi)
		if !ok {
			continue
		}
		t.mu.Lock()
		f := t.files[id]
		if f != nil {
			if f.path != path {
				t.log.Debug("file renamed", "from", f.path, "to", path)
			}
			f.path = path
			f.active = true
			seen[id] = true
		}
		t.mu.Unlock()
		if f != nil {
			continue
		}
		if f := t.open(path, first && len(t.saved) == 0 && t.opts.FromEnd); f != nil {
			seen[f.id] = true
		}
	}
	t.mu.Lock()
	for id, f := range t.files {
		if !seen[id] && f.active {
			f.active = false
			// A writer may go on appending to a renamed file until it reopens its log:
			// the quiet period before closing starts now.
			f.grewAt = time.Now()
			t.log.Debug("file left the pattern; reading it to its end", "path", f.path)
		}
	}
	t.mu.Unlock()
}

// open starts tracking a new file found by the pattern. A file whose first bytes
// are those of a tracked file is a copy of it (copytruncate) and starts where that
// one is; a file whose content is still a prefix of a tracked file's first bytes
// (empty, or a copy being written) is left for the next refresh.
func (t *Tailer) open(path string, fromEnd bool) *file {
	fd, err := os.Open(path)
	if err != nil {
		t.log.Warn("open failed", "path", path, "err", err)
		return nil
	}
	fi, err := fd.Stat()
	id, ok := idOf(fi)
	if err != nil || !ok || compressed(path, fd) {
		if err == nil && ok {
			t.skipCompressed(path)
		}
		_ = fd.Close()
		return nil
	}
	f := &file{t: t, fd: fd, id: id, path: path, active: true, grewAt: time.Now()}
	start := int64(0)
	if fromEnd {
		start = lastLineEnd(fd, fi.Size())
		f.fp = t.head(f, fi.Size())
	} else {
		f.undecided = true
		start = t.decide(f, fi.Size())
	}
	f.readOff = start
	if start == 0 {
		f.header = t.opts.SkipHeaderLines
	}
	f.confirmed.Store(start)
	f.statRead.Store(start)
	t.mu.Lock()
	t.files[id] = f
	t.mu.Unlock()
	t.log.Debug("tracking file", "path", path, "offset", start, "undecided", f.undecided)
	return f
}

// head reads a file's first bytes, up to FingerprintSize.
func (t *Tailer) head(f *file, size int64) []byte {
	head := make([]byte, min(FingerprintSize, size))
	n, _ := f.fd.ReadAt(head, 0)
	return head[:n]
}

// decide settles where an undecided file (found new, not known from a saved
// position) starts: a file whose first bytes are those of a tracked file is a copy
// of it (copytruncate) and starts where that one's records end; a file whose
// content is still a prefix of a tracked file's first bytes (empty, or a copy
// being written) stays undecided and is not read yet; any other starts at 0.
func (t *Tailer) decide(f *file, size int64) int64 {
	head := t.head(f, size)
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.files {
		if o == f || len(o.fp) == 0 || o.gone || o.undecided {
			continue
		}
		if len(head) < len(o.fp) && bytes.Equal(head, o.fp[:len(head)]) {
			return 0 // still undecided
		}
		if len(head) >= len(o.fp) && bytes.Equal(head[:len(o.fp)], o.fp) {
			f.undecided = false
			f.fp = head
			t.log.Info("new file is a copy of a tracked file; reading it from the same offset",
				"path", f.path, "of", o.path, "offset", o.sentOff())
			return o.sentOff()
		}
	}
	f.undecided = false
	f.fp = head
	return 0
}

var compressedSuffixes = []string{".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4", ".Z", ".tgz", ".7z"}

var compressedMagics = [][]byte{{0x1f, 0x8b}, []byte("BZh"), {0xfd, '7', 'z', 'X', 'Z', 0}, {0x28, 0xb5, 0x2f, 0xfd}, []byte("PK\x03\x04"), {0x04, 0x22, 0x4d, 0x18}}

// compressed reports whether a file is a compressed archive (a rotated log that
// logrotate compressed): by name, or by its first bytes. Such files are not read.
func compressed(path string, fd *os.File) bool {
	for _, s := range compressedSuffixes {
		if strings.HasSuffix(path, s) {
			return true
		}
	}
	var head [6]byte
	n, _ := fd.ReadAt(head[:], 0)
	for _, m := range compressedMagics {
		if n >= len(m) && bytes.Equal(head[:len(m)], m) {
			return true
		}
	}
	return false
}

func (t *Tailer) skipCompressed(path string) {
	if t.stats.noteCompressed(path) {
		t.log.Info("skipping compressed file (its lines were read before it was compressed)", "path", path)
	}
}

// lastLineEnd is the offset just after the last newline before size (0 if none).
func lastLineEnd(fd *os.File, size int64) int64 {
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, _ := fd.ReadAt(buf[:end-start], start)
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// resume reopens the files of the saved positions: at their path if it still
// holds the same device, inode and first bytes; otherwise by device and inode
// elsewhere in the same directory (rotated by renaming); otherwise a copy with the
// same first bytes (copytruncate). A file found at its path with other content
// was truncated: it is read from its start.
func (t *Tailer) resume() {
	var rest []Position
	for _, p := range t.saved {
		if !t.resumeAt(p, false) {
			rest = append(rest, p)
		}
	}
	for _, p := range rest {
		if !t.resumeAt(p, true) {
			t.log.Warn("file of a saved position is gone; its unsent lines, if any, are lost", "path", p.Path, "offset", p.Offset)
			t.stats.lost.Add(1)
		}
	}
}

// resumeAt resumes one saved position: by path or by inode (copies false), or by
// first bytes (copies true).
func (t *Tailer) resumeAt(p Position, copies bool) bool {
	f := t.resumeOne(p, copies)
	if f == nil {
		return false
	}
	t.mu.Lock()
	_, dup := t.files[f.id]
	if !dup {
		t.files[f.id] = f
	}
	t.mu.Unlock()
	if dup { // two positions for one file (cannot be saved so; be safe)
		_ = f.fd.Close()
		return true
	}
	t.log.Debug("resuming file", "path", f.path, "offset", f.readOff)
	return true
}

func (t *Tailer) resumeOne(p Position, copies bool) *file {
	try := func(path string, wantID bool) *file {
		fd, err := os.Open(path)
		if err != nil {
			return nil
		}
		fi, err := fd.Stat()
		id, ok := idOf(fi)
		t.mu.Lock()
		_, tracked := t.files[id]
		t.mu.Unlock()
		if err != nil || !ok || !fi.Mode().IsRegular() || tracked || wantID != (id == p.FileID) ||
			fi.Size() < p.Offset || (!wantID && compressed(path, fd)) {
			_ = fd.Close()
			return nil
		}
		head := make([]byte, min(FingerprintSize, fi.Size()))
		n, _ := fd.ReadAt(head, 0)
		head = head[:n]
		if n < p.FingerprintLen || fingerprintOf(head[:p.FingerprintLen]) != p.Fingerprint {
			_ = fd.Close()
			return nil
		}
		f := &file{t: t, fd: fd, id: id, path: path, fp: head, readOff: p.Offset,
			active: t.matches(path), grewAt: time.Now()}
		if p.Offset == 0 && p.FingerprintLen == 0 { // saved while undecided
			f.fp, f.undecided = nil, true
		}
		f.confirmed.Store(p.Offset)
		f.statRead.Store(p.Offset)
		return f
	}
	if !copies {
		if f := try(p.Path, true); f != nil {
			return f
		}
	}
	dir := filepath.Dir(p.Path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if !copies {
			// Renamed: same device and inode, same first bytes.
			if info, err := e.Info(); err == nil {
				if id, ok := idOf(info); ok && id == p.FileID {
					return try(path, true)
				}
			}
			continue
		}
		// Truncated or replaced: a copy with the old first bytes carries the rest.
		if f := try(path, false); f != nil {
			return f
		}
	}
	return nil
}

// retryLater queues a failed record for another Send after a backoff.
func (t *Tailer) retryLater(a *Ack, err error) {
	t.stats.failures.Add(1)
	backoff := t.opts.RetryInitialBackoff << min(a.tries, 20)
	if backoff > t.opts.RetryMaxBackoff || backoff <= 0 {
		backoff = t.opts.RetryMaxBackoff
	}
	a.tries++
	a.next = time.Now().Add(backoff)
	if a.tries == 1 || a.tries%10 == 0 {
		t.mu.Lock()
		path := a.b.f.path
		t.mu.Unlock()
		t.log.Warn("write failed; the line will be sent again", "path", path, "attempt", a.tries, "retry_in", backoff, "err", err)
	}
	t.retryMu.Lock()
	t.retries = append(t.retries, a)
	t.retryMu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// sendRetries sends again the failed records whose backoff has passed.
func (t *Tailer) sendRetries(ctx context.Context) error {
	now := time.Now()
	t.retryMu.Lock()
	var due []*Ack
	keep := t.retries[:0]
	for _, a := range t.retries {
		if now.Before(a.next) {
			keep = append(keep, a)
		} else {
			due = append(due, a)
		}
	}
	t.retries = keep
	t.retryMu.Unlock()
	for i, a := range due {
		if err := t.sink.Send(ctx, a.rec, a); err != nil {
			t.retryMu.Lock()
			t.retries = append(t.retries, due[i:]...)
			t.retryMu.Unlock()
			return err
		}
		t.stats.resent.Add(1)
	}
	return nil
}

// Positions returns the confirmed progress in every tracked file.
func (t *Tailer) Positions() []Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	ps := make([]Position, 0, len(t.files))
	for _, f := range t.files {
		ps = append(ps, Position{
			Flow: t.opts.Flow, Path: f.path, FileID: f.id,
			FingerprintLen: len(f.fp), Fingerprint: fingerprintOf(f.fp),
			Offset: f.confirmed.Load(),
		})
	}
	return ps
}
