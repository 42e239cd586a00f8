package archtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "dagrun"

// pkg is what the rules need of one package of `go list -json`.
type pkg struct {
	ImportPath   string
	Dir          string
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	Imports      []string // of the non-test files
	TestImports  []string
	XTestImports []string
}

// rel is an import path relative to the module ("nodes/train"), or "" for
// a path outside it.
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return ""
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// isKind says whether p (relative) is a kind package: any package under
// nodes/ but nodes itself.
func isKind(p string) bool { return strings.HasPrefix(p, "nodes/") }

func isLib(p string) bool { return under(p, "lib") }

// rule is one import rule: forbidden says why the package from may not
// import to (both relative to the module), or "" when it may.
type rule struct {
	name      string
	forbidden func(from, to string) string
}

// rules are the import rules of non-test files (see the package doc).
var rules = []rule{
	{"kinds import no sibling kind", func(from, to string) string {
		if isKind(from) && isKind(to) && !under(to, from) && !under(from, to) {
			return "a kind package imports no other kind package; move what both need to lib/ (or format/ for a directory format)"
		}
		return ""
	}},
	{"kinds import only nodes, format and lib", func(from, to string) string {
		if isKind(from) && !isKind(to) && to != "nodes" && to != "format" && !isLib(to) {
			return "a kind package imports only nodes, format and lib/* of ours"
		}
		return ""
	}},
	{"lib imports only lib", func(from, to string) string {
		if isLib(from) && !isLib(to) {
			return "a library under lib/ imports no kind, format, engine or command package of ours (only other lib/ packages)"
		}
		return ""
	}},
	{"format imports only lib/artifact", func(from, to string) string {
		if from == "format" && to != "lib/artifact" {
			return "format imports only lib/artifact of ours"
		}
		return ""
	}},
	{"spec and cache import nothing of ours", func(from, to string) string {
		if from == "spec" || from == "cache" {
			return from + " imports no package of ours"
		}
		return ""
	}},
	{"nodes imports at most spec", func(from, to string) string {
		if from == "nodes" && to != "spec" {
			return "the nodes package (what a kind is) imports at most spec"
		}
		return ""
	}},
	{"the engine imports no kind, lib or format", func(from, to string) string {
		if (from == "dag" || under(from, "executor")) && (isKind(to) || isLib(to) || to == "format") {
			return "the engine (dag, executor) knows kinds only through nodes; it imports no kind, lib/ or format package"
		}
		return ""
	}},
	{"report imports no kind", func(from, to string) string {
		if under(from, "report") && isKind(to) {
			return "report reads outputs through format, never a kind package"
		}
		return ""
	}},
	{"the remote tier imports only cache and itself", func(from, to string) string {
		if under(from, "remote") && to != "cache" && !under(to, "remote") {
			return "the remote tier (remote/...) imports only cache of ours; the engine reaches it through dag.Remote"
		}
		return ""
	}},
	{"nothing imports a command", func(from, to string) string {
		if under(to, "cmd") {
			return "no package imports a command (cmd/...)"
		}
		return ""
	}},
}

// testKindImports are the test files of kind packages allowed to import a
// sibling kind, each for a reason; any other such import, and any entry
// here no longer needed, fails the test.
var testKindImports = map[[2]string]string{
	{"nodes/train", "nodes/data"}: "TestPasteEndToEnd pastes into a small lt-seg made by the real ltseg kind",
	{"nodes/vae", "nodes/data"}:   "TestClassConditionalReal trains on the real lt-seg reference corpus (helpers_test.go builds it)",
}

// violation is one import that breaks a rule.
type violation struct {
	from, to, file, why string
}

func (v violation) String() string {
	file := v.file
	if file == "" {
		file = v.from
	}
	return fmt.Sprintf("%s imports %s/%s: %s", file, module, v.to, v.why)
}

// check applies the rules to pkgs. fileOf names the file of a package that
// imports a path (test says whether to look at test files).
func check(pkgs []pkg, fileOf func(p pkg, path string, test bool) string) (bad []violation, unusedAllow []string) {
	used := map[[2]string]bool{}
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		if from == "" {
			continue
		}
		for _, imp := range p.Imports {
			to := rel(imp)
			if to == "" {
				continue
			}
			for _, r := range rules {
				if why := r.forbidden(from, to); why != "" {
					bad = append(bad, violation{from, to, fileOf(p, imp, false), why})
				}
			}
		}
		if !isKind(from) {
			continue
		}
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			to := rel(imp)
			if to == "" || !isKind(to) || under(to, from) || under(from, to) {
				continue
			}
			if _, ok := testKindImports[[2]string{from, to}]; ok {
				used[[2]string{from, to}] = true
				continue
			}
			bad = append(bad, violation{from, to, fileOf(p, imp, true),
				"a kind's tests build their inputs without other kinds; if one truly cannot, list it with its reason in testKindImports"})
		}
	}
	for k := range testKindImports {
		if !used[k] {
			unusedAllow = append(unusedAllow, k[0]+" -> "+k[1])
		}
	}
	slices.Sort(unusedAllow)
	return bad, unusedAllow
}

// importingFile returns the first of p's files (test files when test) that
// imports path, relative to the module root, or "" when none parses.
func importingFile(root string) func(p pkg, path string, test bool) string {
	return func(p pkg, path string, test bool) string {
		files := append(slices.Clone(p.GoFiles), p.CgoFiles...)
		if test {
			files = append(slices.Clone(p.TestGoFiles), p.XTestGoFiles...)
		}
		for _, f := range files {
			name := filepath.Join(p.Dir, f)
			af, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
			if err != nil {
				continue
			}
			for _, is := range af.Imports {
				if v, _ := strconv.Unquote(is.Path.Value); v == path {
					r, err := filepath.Rel(root, name)
					if err != nil {
						return name
					}
					return r
				}
			}
		}
		return ""
	}
}

// moduleRoot returns the folder holding the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// goList runs `go list -json ./...` at the module root.
func goList(t *testing.T) ([]pkg, string) {
	t.Helper()
	root := moduleRoot(t)
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json ./...: %v\n%s", err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs, root
}

// TestImportRules checks every package of the module against the rules.
func TestImportRules(t *testing.T) {
	pkgs, root := goList(t)
	if len(pkgs) < 20 {
		t.Fatalf("go list found %d packages; is the test run inside the module?", len(pkgs))
	}
	bad, unused := check(pkgs, importingFile(root))
	for _, v := range bad {
		t.Error(v)
	}
	for _, u := range unused {
		t.Errorf("testKindImports lists %s, which no test imports any more: remove the entry", u)
	}
}

// TestRulesCatchViolations feeds the checker packages that break each rule
// and one that keeps them, so a rule that stops firing fails here.
func TestRulesCatchViolations(t *testing.T) {
	d := func(s string) string { return module + "/" + s }
	pkgs := []pkg{
		{ImportPath: d("nodes/score"), Imports: []string{d("nodes"), d("format"), d("lib/nn"), d("nodes/train"), d("dag")}},
		{ImportPath: d("lib/learn"), Imports: []string{d("lib/artifact"), d("format")}},
		{ImportPath: d("format"), Imports: []string{d("lib/artifact"), d("lib/nn")}},
		{ImportPath: d("spec"), Imports: []string{d("nodes")}},
		{ImportPath: d("cache"), Imports: []string{"fmt", d("spec")}},
		{ImportPath: d("nodes"), Imports: []string{d("spec"), d("format")}},
		{ImportPath: d("dag"), Imports: []string{d("nodes"), d("nodes/train"), d("lib/nn"), d("format")}},
		{ImportPath: d("executor/slurm"), Imports: []string{d("dag"), d("nodes/command")}},
		{ImportPath: d("report"), Imports: []string{d("format"), d("nodes/train")}},
		{ImportPath: d("bench/engine/prof"), Imports: []string{d("cmd/dagrun")}},
		{ImportPath: d("remote"), Imports: []string{d("cache"), d("dag")}},
		{ImportPath: d("nodes/noise"), TestImports: []string{d("nodes/train")}},
		{ImportPath: d("nodes/vae"), TestImports: []string{d("nodes/data")}},
		{ImportPath: d("cmd/dagrun"), Imports: []string{d("nodes/train"), d("report"), d("dag")}},
	}
	bad, unused := check(pkgs, func(pkg, string, bool) string { return "" })
	var got []string
	for _, v := range bad {
		got = append(got, v.from+" -> "+v.to)
	}
	want := []string{
		"nodes/score -> nodes/train", "nodes/score -> dag",
		"lib/learn -> format",
		"format -> lib/nn",
		"spec -> nodes", "cache -> spec", "nodes -> format",
		"dag -> nodes/train", "dag -> lib/nn", "dag -> format",
		"executor/slurm -> nodes/command",
		"report -> nodes/train",
		"bench/engine/prof -> cmd/dagrun",
		"remote -> dag",
		"nodes/noise -> nodes/train",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if !slices.Equal(unused, []string{"nodes/train -> nodes/data"}) {
		t.Errorf("unused allowlist entries %q, want the train one", unused)
	}
	msg := violation{"nodes/score", "nodes/train", "nodes/score/score.go", "why"}.String()
	if msg != "nodes/score/score.go imports dagrun/nodes/train: why" {
		t.Errorf("message %q", msg)
	}
}
