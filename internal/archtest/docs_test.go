package archtest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// archDoc is the architecture document, relative to the module root.
const archDoc = "docs/architecture.md"

// readDoc returns the architecture document and the module root.
func readDoc(t *testing.T) (string, string) {
	t.Helper()
	root := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, archDoc))
	if err != nil {
		t.Fatal(err)
	}
	return string(b), root
}

// prose returns md without its fenced code blocks, which hold examples
// (YAML, formulas) rather than references.
func prose(md string) string {
	var out []string
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

var codeSpan = regexp.MustCompile("`([^`\n]+)`")

// repoPaths returns the backticked spans of md that name a path of the
// repository: they contain a slash (or start with "./"), start with one of
// the top-level folders tops, and hold no placeholder (<slot>, *, …,
// ${...}, the Go pattern cmd/...). Spans such as `model/` or
// `in/<slot>/<index>/` name places in node outputs or the cache, not the
// repository, and are left alone.
func repoPaths(md string, tops map[string]bool) []string {
	var out []string
	for _, m := range codeSpan.FindAllStringSubmatch(prose(md), -1) {
		s, dot := strings.CutPrefix(m[1], "./")
		if !dot && !strings.Contains(s, "/") || strings.ContainsAny(s, "<>*…{}$ ") || strings.Contains(s, "...") {
			continue // not a path, or a pattern
		}
		first, _, _ := strings.Cut(s, "/")
		if tops[first] && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// topFolders lists the module root's real folders that belong to the
// repository (not hidden ones, build outputs or the fetched third_party).
func topFolders(t *testing.T, root string) map[string]bool {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	tops := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() && !strings.HasPrefix(name, ".") && name != "bin" && name != "third_party" {
			tops[name] = true
		}
	}
	return tops
}

// headings returns the section titles of md ("## The method" gives
// "The method").
func headings(md string) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(prose(md), "\n") {
		if strings.HasPrefix(line, "#") {
			out[strings.TrimSpace(strings.TrimLeft(line, "#"))] = true
		}
	}
	return out
}

// citation is how code cites a section: "docs/architecture.md, The method".
// The title runs to the first character that is not a letter, digit, space
// or hyphen, so it ends at a comma, colon, period or parenthesis, and must
// not be broken across lines.
var citation = regexp.MustCompile(`docs/architecture\.md(, ([A-Za-z][A-Za-z0-9 -]*))?`)

// badCitations returns, for text, each citation of the document that does
// not name one of the sections: a bare file name, or a title that is not a
// heading.
func badCitations(text string, sections map[string]bool) []string {
	var bad []string
	for _, m := range citation.FindAllStringSubmatch(text, -1) {
		if title := strings.TrimSpace(m[2]); !sections[title] {
			bad = append(bad, m[0])
		}
	}
	return bad
}

// TestArchitectureDocPathsExist checks that every repository path the
// document writes in backticks exists, so that moving or deleting a file
// or package it describes fails here until the document follows.
func TestArchitectureDocPathsExist(t *testing.T) {
	md, root := readDoc(t)
	paths := repoPaths(md, topFolders(t, root))
	if len(paths) < 50 {
		t.Fatalf("found only %d repository paths in %s; is the extraction broken?", len(paths), archDoc)
	}
	for _, p := range paths {
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(p))); err != nil {
			t.Errorf("%s names `%s`, which does not exist", archDoc, p)
		}
	}
}

// TestArchitectureDocNamesEveryPackage checks that every package of the
// module appears in the document (in backticks), so that a new package
// comes with its place in the layers.
func TestArchitectureDocNamesEveryPackage(t *testing.T) {
	md, _ := readDoc(t)
	pkgs, _ := goList(t)
	for _, p := range pkgs {
		r := rel(p.ImportPath)
		if r == "" || r == "." {
			continue
		}
		if !strings.Contains(md, "`"+r+"`") {
			t.Errorf("%s does not name package `%s`: add it to the layers table (section \"Layers and import rules\")", archDoc, r)
		}
	}
}

// TestArchitectureCitations checks every citation of the document in the
// repository's code and specs: it must name one of its sections, as in
// "docs/architecture.md, The method".
func TestArchitectureCitations(t *testing.T) {
	md, root := readDoc(t)
	sections := headings(md)
	found := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || name == "bin" || name == "third_party" || name == "node_modules") {
				return filepath.SkipDir
			}
			// This package's own sources spell the citation form out.
			if r, _ := filepath.Rel(root, path); filepath.ToSlash(r) == "internal/archtest" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".go", ".yaml", ".yml", ".sh", ".py":
		default:
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		r, _ := filepath.Rel(root, path)
		found += strings.Count(string(b), archDoc)
		for _, c := range badCitations(string(b), sections) {
			t.Errorf("%s: %q names no section of %s; cite it as \"%s, <section heading>\"", filepath.ToSlash(r), c, archDoc, archDoc)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no file cites %s; is the walk broken?", archDoc)
	}
}

// TestDocCheckersCatchRot feeds the checkers a document and code that
// break each rule, so that a checker that stops finding problems fails.
func TestDocCheckersCatchRot(t *testing.T) {
	md := "# Top\n\n## The method\n\nSee `lib/bsgal`, `dag/key.go`, `model/`, `in/<slot>/`, `dag.Bind`,\n" +
		"`nodes/<kind>`, `cmd/...`, `t-shirt/top` and `./cache`.\n\n```\n`spec/inside_a_fence.go`\n## Not a heading\n```\n"
	got := repoPaths(md, map[string]bool{"lib": true, "dag": true, "nodes": true, "cache": true, "spec": true})
	if want := []string{"lib/bsgal", "dag/key.go", "cache"}; !slices.Equal(got, want) {
		t.Errorf("repoPaths = %q, want %q", got, want)
	}
	h := headings(md)
	if !h["The method"] || !h["Top"] || h["Not a heading"] {
		t.Errorf("headings = %v", h)
	}
	code := "// see docs/architecture.md, The method (the offline setting).\n" +
		"// docs/architecture.md, Exit codes.\n// docs/architecture.md, The Method\n// docs/architecture.md section 4\n"
	bad := badCitations(code, map[string]bool{"The method": true, "Exit codes": true})
	if want := []string{"docs/architecture.md, The Method", "docs/architecture.md"}; !slices.Equal(bad, want) {
		t.Errorf("badCitations = %q, want %q", bad, want)
	}
}
