package sink

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// NewDir returns a Destination that writes objects as files under the directory path
// (created if missing). Each object is written to a temporary file in its final
// directory, fsynced, renamed into place and its directory fsynced, so a file that
// exists is complete and durable. Temporary files left by a crash start with ".tmp-";
// they are never read and may be deleted.
func NewDir(path string) Destination { return &dirDestination{root: path} }

type dirDestination struct{ root string }

func (d *dirDestination) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("sink: object name %q is not a relative name", name)
	}
	for _, el := range strings.Split(name, "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsRune(el, '\\') {
			return "", fmt.Errorf("sink: object name %q has an empty, dot or backslash element", name)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(name)), nil
}

func (d *dirDestination) Put(ctx context.Context, name string, body []byte) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := mkdirAllSynced(dir); err != nil {
		return err
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(dir, ".tmp-"+hex.EncodeToString(rnd[:])+"-"+filepath.Base(p))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(body)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, p)
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("sink: writing %s: %w", p, werr)
	}
	return syncDir(dir)
}

// GetVersion returns the file and the SHA-256 of its content as its version.
func (d *dirDestination) GetVersion(ctx context.Context, name string) ([]byte, string, error) {
	b, err := d.Get(ctx, name)
	if err != nil {
		return nil, "", err
	}
	return b, contentVersion(b), nil
}

// PutIfVersion holds an exclusive lock on a lock file beside the object (flock: released
// if the process dies) while it compares the version and writes, so the processes of
// one machine that share the directory replace the object one at a time.
func (d *dirDestination) PutIfVersion(ctx context.Context, name string, body []byte, version string) error {
	p, err := d.path(name)
	if err != nil {
		return err
	}
	if err := mkdirAllSynced(filepath.Dir(p)); err != nil {
		return err
	}
	unlock, err := lockFile(filepath.Join(filepath.Dir(p), ".lock-"+filepath.Base(p)))
	if err != nil {
		return fmt.Errorf("sink: locking %s: %w", p, err)
	}
	defer unlock()
	current := ""
	switch b, err := os.ReadFile(p); {
	case err == nil:
		current = contentVersion(b)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if current != version {
		return fmt.Errorf("%w: %s", ErrConflict, p)
	}
	return d.Put(ctx, name, body)
}

func contentVersion(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func (d *dirDestination) Get(ctx context.Context, name string) ([]byte, error) {
	p, err := d.path(name)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotFound, p, err)
	}
	return b, err
}

// mkdirAllSynced creates dir and its missing parents, fsyncing each parent that got a
// new entry so the new directories survive a crash.
func mkdirAllSynced(dir string) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("sink: %s is not a directory", dir)
		}
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirAllSynced(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return syncDir(parent)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sink: syncing directory %s: %w", dir, err)
	}
	return nil
}
