package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// npmDir resolves the npm project directory holding the emulators.
func npmDir(dir string) (string, error) {
	if dir == "" {
		dir = os.Getenv("KINESIS_GO_LOCALAWS_DIR")
	}
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "testdata", "localaws")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	if _, err := os.Stat(filepath.Join(abs, "package-lock.json")); err != nil {
		return "", fmt.Errorf("testbed: no package-lock.json in %s (set KINESIS_GO_LOCALAWS_DIR to the directory holding the emulators' npm project): %w", abs, err)
	}
	return abs, nil
}

// moduleRoot walks up from the working directory to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testbed: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("testbed: cannot find the module root (go.mod) above the working directory; set KINESIS_GO_LOCALAWS_DIR")
		}
		dir = parent
	}
}

// installed reports whether both emulators' entry points are present.
func installed(dir string) bool {
	for _, f := range []string{"node_modules/kinesis-local/main.js", "node_modules/kinesis-local/server.json", "node_modules/dynalite/cli.js"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// Install runs `npm ci` in dir when the emulators are missing. Concurrent test binaries
// serialise on a lock file so only one of them installs.
func Install(ctx context.Context, dir string, logf func(string, ...any)) error {
	if installed(dir) {
		return nil
	}
	if _, err := exec.LookPath("node"); err != nil {
		return ErrNodeMissing
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return ErrNodeMissing
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("testbed: %w", err)
	}
	defer lock.Close()
	if err := flock(ctx, lock); err != nil {
		return err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if installed(dir) { // another process installed while we waited
		return nil
	}
	logf("testbed: installing the emulators with npm ci in %s", dir)
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("testbed: npm ci in %s failed (is the npm registry reachable?): %w\n%s", dir, err, out)
	}
	if !installed(dir) {
		return fmt.Errorf("testbed: npm ci in %s finished but kinesis-local or dynalite is missing", dir)
	}
	return nil
}

// flock takes an exclusive lock on f, polling so that it gives up when ctx ends.
func flock(ctx context.Context, f *os.File) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("testbed: locking %s: %w", f.Name(), err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testbed: waiting for another npm ci to finish: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
