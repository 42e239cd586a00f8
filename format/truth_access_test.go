package format

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// truthReaders are the packages (directories from the module root) that
// may refer to truth.csv: format defines it, the spoil kinds write it,
// report joins decisions with it. No selection mode, scorer, filter or
// trainer is among them, so none can select by the truth.
var truthReaders = []string{"format", "nodes/spoil", "report"}

// TestTruthIsReadOnlyByReports parses every Go file of the module and
// fails on any reference to the truth format (format.TruthFile,
// format.ParseTruth, …, or a string literal naming truth.csv) outside
// truthReaders.
func TestTruthIsReadOnlyByReports(t *testing.T) {
	root := ".."
	fset := token.NewFileSet()
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "third_party" || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		if slices.Contains(truthReaders, rel) {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.SelectorExpr:
				if strings.HasPrefix(x.Sel.Name, "Truth") || x.Sel.Name == "ParseTruth" || x.Sel.Name == "WriteTruth" {
					t.Errorf("%s: refers to %s; only %q may read the truth", fset.Position(x.Pos()), x.Sel.Name, truthReaders)
				}
			case *ast.BasicLit:
				if s, err := strconv.Unquote(x.Value); err == nil && x.Kind == token.STRING && strings.Contains(s, TruthFile) {
					t.Errorf("%s: names %q; only %q may read the truth", fset.Position(x.Pos()), TruthFile, truthReaders)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("checked %d Go files, want the whole module", checked)
	}
}
