package spec

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"golang.org/x/tools/txtar"
)

// positioned is the shape of every error Parse can give for in-memory input.
var positioned = regexp.MustCompile(`^[^\n]+:\d+:\d+: `)

// FuzzLoad parses arbitrary specs: the root file and one more file served for every
// include. It must never panic, and every error must start with "file:line:col".
func FuzzLoad(f *testing.F) {
	paths, _ := filepath.Glob("testdata/invalid/*.txtar")
	for _, p := range paths {
		ar, err := txtar.ParseFile(p)
		if err != nil {
			f.Fatal(err)
		}
		var files [][]byte
		for _, fl := range ar.Files {
			if fl.Name != "want" {
				files = append(files, fl.Data)
			}
		}
		files = append(files, nil)
		f.Add(files[0], files[1])
	}
	for _, p := range []string{"testdata/valid/demo.yaml", "testdata/valid/common/pool.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte("nodes: {x: {kind: k}}\n"))
	}
	f.Add([]byte(gridSpec), []byte(nil))
	f.Fuzz(func(t *testing.T, root, inc []byte) {
		read := func(string) ([]byte, error) { return inc, nil }
		sp, err := Parse("spec.yaml", root, Options{ReadFile: read})
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %v is not a non-empty ErrorList", err, err)
			}
			for _, e := range list {
				if !positioned.MatchString(e.Error()) {
					t.Fatalf("error without position: %q", e.Error())
				}
			}
			return
		}
		names := map[string]bool{}
		for _, n := range sp.Nodes {
			if names[n.Name] {
				t.Fatalf("duplicate node %q", n.Name)
			}
			names[n.Name] = true
		}
		for _, n := range sp.Nodes {
			for _, in := range n.Inputs {
				if !names[in.Node] {
					t.Fatalf("node %q input %q refers to missing %q", n.Name, in.Slot, in.Node)
				}
			}
			var p struct {
				A int `yaml:"a"`
				B struct {
					C []string `yaml:"c"`
				} `yaml:"b"`
			}
			for _, e := range DecodeParams(n, &p) {
				if !positioned.MatchString(e.Error()) {
					t.Fatalf("DecodeParams error without position: %q", e.Error())
				}
			}
		}
	})
}
