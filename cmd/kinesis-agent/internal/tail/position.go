package tail

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// FileID identifies a file independently of its name: its device and inode.
type FileID struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

// FingerprintSize is how many of a file's first bytes identify its content, along
// with its device and inode: a file truncated and written again, or an inode
// reused by a new file, has other first bytes.
const FingerprintSize = 1024

// Position is the saved progress of a flow in one file: every byte before Offset
// was written to the stream (or skipped on purpose).
type Position struct {
	// Flow is the flow's ID (pattern and stream).
	Flow string `json:"flow"`
	// Path is the file's name when the position was taken; a file renamed since is
	// found again by device and inode in the same directory.
	Path string `json:"path"`
	FileID
	// FingerprintLen bytes at the start of the file hash (FNV-1a 64) to Fingerprint.
	FingerprintLen int    `json:"fingerprintLen"`
	Fingerprint    uint64 `json:"fingerprint"`
	// Offset is the byte offset up to which the file was written to the stream.
	Offset int64 `json:"offset"`
}

func fingerprintOf(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// positionsFile is the name of the positions file in the state directory.
const positionsFile = "positions.json"

// Store keeps positions in a directory, in one file replaced atomically.
type Store struct {
	dir string
}

// NewStore returns the store in dir, creating dir if needed.
func NewStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create state directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Load returns the saved positions (none on a first start).
func (s *Store) Load() ([]Position, error) {
	path := filepath.Join(s.dir, positionsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read positions: %w", err)
	}
	var doc struct {
		Positions []Position `json:"positions"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("read positions %s (move it away to start over): %w", path, err)
	}
	return doc.Positions, nil
}

// Save replaces the saved positions: written to a temporary file, synced, renamed
// over the old one, and the directory synced, so that a crash leaves the old or the
// new positions, never a mix.
func (s *Store) Save(ps []Position) error {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b Position) int {
		if c := strings.Compare(a.Flow, b.Flow); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	data, err := json.MarshalIndent(struct {
		Positions []Position `json:"positions"`
	}{ps}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, positionsFile+".tmp*")
	if err != nil {
		return fmt.Errorf("save positions: %w", err)
	}
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(s.dir, positionsFile))
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("save positions: %w", err)
	}
	if d, err := os.Open(s.dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}
