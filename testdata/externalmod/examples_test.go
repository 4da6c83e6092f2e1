package kinesisuser

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The godoc examples of the public packages are copied by users into their
// own modules, where internal packages cannot be imported: none may import
// one. (This module compiling proves the same for the code above.)
func TestPublicExamplesImportNoInternalPackage(t *testing.T) {
	// The kinesis-go module's directory, wherever the replace directive points.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kinesis-go/kinesis").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/kinesis-go/kinesis: %v", err)
	}
	root := strings.TrimSpace(string(out))
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch {
			case rel == ".":
				return nil
			case strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules" ||
				d.Name() == "internal" || rel == "benchmarks":
				return filepath.SkipDir // not public, or not this module
			}
			return nil
		}
		if !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		if !hasExample(f) {
			return nil
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/kinesis-go/kinesis/") && strings.Contains(p, "/internal/") || strings.HasSuffix(p, "/internal") {
				t.Errorf("%s: a godoc example imports %s; users cannot copy it (use package kinesistest)", rel, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d files with godoc examples checked", checked)
	if checked < 4 {
		t.Fatalf("only %d files with examples found under %s", checked, root)
	}
}

func hasExample(f *ast.File) bool {
	for _, d := range f.Decls {
		if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Example") {
			return true
		}
	}
	return false
}
