package spec

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want files of testdata/invalid")

// memFS serves files from memory, as Options.ReadFile.
type memFS map[string][]byte

func (m memFS) read(path string) ([]byte, error) {
	if b, ok := m[filepath.Clean(path)]; ok {
		return b, nil
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
}

// archiveCase is one txtar case: its files, the options from its comment and its want.
type archiveCase struct {
	files memFS
	main  string
	opt   Options
	want  []byte
}

// readArchive reads a txtar case. Comment lines are directives:
//
//	main FILE        the spec to load (default: the first file)
//	profile NAME     Options.Profile
//	set NAME=VALUE   one Options.Set entry
//	grow FILE BYTES  append YAML comment lines to FILE until it has BYTES bytes
func readArchive(t *testing.T, path string) archiveCase {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := archiveCase{files: memFS{}}
	for _, f := range ar.Files {
		if f.Name == "want" {
			c.want = f.Data
			continue
		}
		if c.main == "" {
			c.main = f.Name
		}
		c.files[filepath.Clean(f.Name)] = f.Data
	}
	for _, line := range strings.Split(string(ar.Comment), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch {
		case fields[0] == "main" && len(fields) == 2:
			c.main = fields[1]
		case fields[0] == "profile" && len(fields) == 2:
			c.opt.Profile = fields[1]
		case fields[0] == "set" && len(fields) == 2:
			k, v, _ := strings.Cut(fields[1], "=")
			if c.opt.Set == nil {
				c.opt.Set = map[string]string{}
			}
			c.opt.Set[k] = v
		case fields[0] == "grow" && len(fields) == 3:
			n, err := strconv.Atoi(fields[2])
			if err != nil {
				t.Fatalf("%s: grow: %v", path, err)
			}
			b := c.files[fields[1]]
			line := append(bytes.Repeat([]byte("#"), 1023), '\n')
			if len(b) < n {
				b = append(b, bytes.Repeat(line, (n-len(b)+len(line)-1)/len(line))...)
			}
			c.files[fields[1]] = b
		default:
			t.Fatalf("%s: unknown directive %q", path, line)
		}
	}
	c.opt.ReadFile = c.files.read
	return c
}

func TestInvalidSpecs(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) < 15 {
		t.Fatalf("found %d invalid specs, want at least 15", len(paths))
	}
	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			c := readArchive(t, path)
			sp, err := Load(c.main, c.opt)
			if err == nil {
				t.Fatalf("Load(%q) = %d nodes, nil error; want an error", c.main, len(sp.Nodes))
			}
			var list ErrorList
			if !errors.As(err, &list) {
				t.Fatalf("Load error is %T, want ErrorList", err)
			}
			got := err.Error() + "\n"
			if *update {
				writeWant(t, path, got)
				return
			}
			if got != string(c.want) {
				t.Errorf("Load(%q) errors:\n%s\nwant:\n%s", c.main, got, c.want)
			}
		})
	}
}

// writeWant replaces (or adds) the want file of the archive at path.
func writeWant(t *testing.T, path, want string) {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i := range ar.Files {
		if ar.Files[i].Name == "want" {
			ar.Files[i].Data = []byte(want)
			found = true
		}
	}
	if !found {
		ar.Files = append(ar.Files, txtar.File{Name: "want", Data: []byte(want)})
	}
	if err := os.WriteFile(path, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}
