package sink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDirWritesFilesAtomically(t *testing.T) {
	root := t.TempDir()
	d := NewDir(filepath.Join(root, "archive"))
	ctx := context.Background()
	if err := d.Put(ctx, "a/b/c.json", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := d.Put(ctx, "a/b/c.json", []byte("two")); err != nil {
		t.Fatal(err)
	}
	got, err := d.Get(ctx, "a/b/c.json")
	if err != nil || string(got) != "two" {
		t.Fatalf("Get: %q, %v; want the replacement", got, err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "archive", "a", "b"))
	if len(entries) != 1 {
		t.Errorf("files %v: a temporary file was left", entries)
	}
	if _, err := d.Get(ctx, "a/none.json"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing file: %v, want ErrNotFound", err)
	}
}

func TestDirRejectsNamesOutsideItsRoot(t *testing.T) {
	d := NewDir(t.TempDir())
	for _, name := range []string{"../x", "a/../../x", "/etc/x", "a//b", "", `a\..\x`} {
		if err := d.Put(context.Background(), name, nil); err == nil || !strings.Contains(err.Error(), "name") {
			t.Errorf("Put(%q): %v, want a name error", name, err)
		}
	}
}

func TestDirReportsWhyItCannotWrite(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := NewDir(root).Put(context.Background(), "file/x.json", []byte("x"))
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("Put under a file: %v", err)
	}
}
