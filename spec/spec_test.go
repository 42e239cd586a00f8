package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// parseFiles loads "spec.yaml" from files (path → content) with opt.
func parseFiles(t *testing.T, files map[string]string, opt Options) (*Spec, error) {
	t.Helper()
	m := memFS{}
	for p, s := range files {
		m[filepath.Clean(p)] = []byte(s)
	}
	opt.ReadFile = m.read
	return Load("spec.yaml", opt)
}

func mustParse(t *testing.T, files map[string]string, opt Options) *Spec {
	t.Helper()
	sp, err := parseFiles(t, files, opt)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return sp
}

func nodeNames(sp *Spec) []string {
	var out []string
	for _, n := range sp.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func findNode(t *testing.T, sp *Spec, name string) *Node {
	t.Helper()
	for _, n := range sp.Nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %q in %q", name, nodeNames(sp))
	return nil
}

// inputList renders inputs as "slot=node" or "slot[i]=node.output".
func inputList(n *Node) []string {
	var out []string
	for _, in := range n.Inputs {
		s := in.Slot
		if in.List {
			s += fmt.Sprintf("[%d]", in.Index)
		}
		s += "=" + in.Node
		if in.Output != "" {
			s += "." + in.Output
		}
		out = append(out, s)
	}
	return out
}

// plain decodes a YAML node into plain Go values.
func plain(t *testing.T, y *yaml.Node) any {
	t.Helper()
	if y == nil {
		return nil
	}
	var v any
	if err := y.Decode(&v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestInterpolation(t *testing.T) {
	tests := []struct {
		name   string
		vars   string
		params string
		set    map[string]string
		want   map[string]any
	}{
		{"exact int keeps its type", "{n: 100}", `{x: "${n}"}`, nil, map[string]any{"x": 100}},
		{"exact list stays a list", "{l: [a, 2]}", `{x: "${l}"}`, nil, map[string]any{"x": []any{"a", 2}}},
		{"exact mapping stays a mapping", "{m: {a: 1}}", `{x: "${m}"}`, nil, map[string]any{"x": map[string]any{"a": 1}}},
		{"inside a string is text", "{n: 100}", `{x: "n=${n}!"}`, nil, map[string]any{"x": "n=100!"}},
		{"two refs make a string", "{a: 1, b: 2}", `{x: "${a}${b}"}`, nil, map[string]any{"x": "12"}},
		{"escape gives a literal", "{n: 1}", `{x: "$${n} $${HOME}"}`, nil, map[string]any{"x": "${n} ${HOME}"}},
		{"other placeholders stay", "{n: 1}", `{x: "{in.data} {out} $n"}`, nil, map[string]any{"x": "{in.data} {out} $n"}},
		{"var through var", "{a: 'x-${b}', b: '${c}', c: 7}", `{x: "${a}", y: "${b}"}`, nil, map[string]any{"x": "x-7", "y": 7}},
		{"inside lists", "{n: 3}", `{argv: [sh, -c, "echo ${n}"], k: ["${n}"]}`, nil,
			map[string]any{"argv": []any{"sh", "-c", "echo 3"}, "k": []any{3}}},
		{"keys are not interpolated", "{n: 3}", `{"${n}": 1}`, nil, map[string]any{"${n}": 1}},
		{"--set value is a YAML scalar", "{n: 100}", `{x: "${n}"}`, map[string]string{"n": "3"}, map[string]any{"x": 3}},
		{"--set string", "{n: 100}", `{x: "${n}"}`, map[string]string{"n": "abc"}, map[string]any{"x": "abc"}},
		{"--set list", "{n: 100}", `{x: "${n}"}`, map[string]string{"n": "[1, 2]"}, map[string]any{"x": []any{1, 2}}},
		{"--set value is interpolated", "{n: 100, m: 2}", `{x: "${n}"}`, map[string]string{"n": "a${m}"}, map[string]any{"x": "a2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := fmt.Sprintf("vars: %s\nnodes:\n  a:\n    kind: k\n    params: %s\n", tt.vars, tt.params)
			sp := mustParse(t, map[string]string{"spec.yaml": src}, Options{Set: tt.set})
			got := plain(t, findNode(t, sp, "a").Params)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("params = %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestInterpolationKeepsPositions(t *testing.T) {
	src := "vars:\n  lr: 0.1\nnodes:\n  a:\n    kind: k\n    params: {lr: \"${lr}\", s: \"x${lr}\"}\n"
	sp := mustParse(t, map[string]string{"spec.yaml": src}, Options{})
	n := findNode(t, sp, "a")
	lr, s := n.Params.Content[1], n.Params.Content[3]
	if got, want := n.PosOf(lr), (Pos{"spec.yaml", 2, 7}); got != want {
		t.Errorf("PosOf(exact var) = %v, want %v (the var's value)", got, want)
	}
	if got, want := n.PosOf(s), (Pos{"spec.yaml", 6, 30}); got != want {
		t.Errorf("PosOf(string) = %v, want %v (the scalar)", got, want)
	}
}

const gridSpec = `
matrix:
  seed: [1, 2]
  method: [none, bsgal]
  gen: [vae, noise]
vars:
  tag: "${method}"
nodes:
  data: {kind: file}
  gen_vae: {kind: generate, params: {seed: "${seed}"}}
  gen_noise: {kind: generate}
  train:
    kind: train
    inputs: {data: data, pool: "gen_${gen}.images"}
    params: {method: "${tag}"}
  eval:
    kind: evaluate
    inputs: {model: train, data: data}
  union:
    kind: merge
    inputs: {pool: [gen_vae, gen_noise]}
`

func TestExpansion(t *testing.T) {
	tests := []struct {
		name   string
		src    string
		opt    Options
		names  []string
		inputs map[string][]string
	}{
		{
			name:  "single nodes stay single",
			src:   "nodes:\n  a: {kind: k}\n  b: {kind: k, inputs: {x: a.out}}\n",
			names: []string{"a", "b"},
			inputs: map[string][]string{
				"b": {"x=a.out"},
			},
		},
		{
			name:  "axes in own params and through vars",
			src:   "matrix: {s: [1, 2], m: [x]}\nvars: {v: \"${m}\"}\nnodes:\n  a: {kind: k, params: {p: \"${v}-${s}\"}}\n",
			names: []string{"a[s=1,m=x]", "a[s=2,m=x]"},
		},
		{
			name: "grid: full axes flow downstream, dynamic refs pick the upstream",
			src:  gridSpec,
			names: []string{
				"data",
				"gen_vae[seed=1]", "gen_vae[seed=2]",
				"gen_noise",
				"train[seed=1,method=none,gen=vae]", "train[seed=1,method=none,gen=noise]",
				"train[seed=1,method=bsgal,gen=vae]", "train[seed=1,method=bsgal,gen=noise]",
				"train[seed=2,method=none,gen=vae]", "train[seed=2,method=none,gen=noise]",
				"train[seed=2,method=bsgal,gen=vae]", "train[seed=2,method=bsgal,gen=noise]",
				"eval[seed=1,method=none,gen=vae]", "eval[seed=1,method=none,gen=noise]",
				"eval[seed=1,method=bsgal,gen=vae]", "eval[seed=1,method=bsgal,gen=noise]",
				"eval[seed=2,method=none,gen=vae]", "eval[seed=2,method=none,gen=noise]",
				"eval[seed=2,method=bsgal,gen=vae]", "eval[seed=2,method=bsgal,gen=noise]",
				"union[seed=1]", "union[seed=2]",
			},
			inputs: map[string][]string{
				"train[seed=2,method=bsgal,gen=vae]":   {"data=data", "pool=gen_vae[seed=2].images"},
				"train[seed=2,method=bsgal,gen=noise]": {"data=data", "pool=gen_noise.images"},
				"eval[seed=1,method=none,gen=noise]":   {"data=data", "model=train[seed=1,method=none,gen=noise]"},
				"union[seed=2]":                        {"pool[0]=gen_vae[seed=2]", "pool[1]=gen_noise"},
			},
		},
		{
			name: "--set restricts an axis to one value",
			src:  gridSpec,
			opt:  Options{Set: map[string]string{"gen": "noise", "seed": "2", "method": "none"}},
			// With gen=noise only, train no longer reaches gen_vae, so seed drops out of it.
			names: []string{"data", "gen_vae[seed=2]", "gen_noise",
				"train[method=none,gen=noise]", "eval[method=none,gen=noise]", "union[seed=2]"},
			inputs: map[string][]string{
				"train[method=none,gen=noise]": {"data=data", "pool=gen_noise.images"},
			},
		},
		{
			name:  "list var as a list slot",
			src:   "vars: {gens: [a, b.x]}\nnodes:\n  a: {kind: k}\n  b: {kind: k}\n  c: {kind: k, inputs: {pool: \"${gens}\", more: [\"${gens}\", a]}}\n",
			names: []string{"a", "b", "c"},
			inputs: map[string][]string{
				"c": {"more[0]=a", "more[1]=b.x", "more[2]=a", "pool[0]=a", "pool[1]=b.x"},
			},
		},
		{
			name:  "inputs sorted by slot then index",
			src:   "nodes:\n  a: {kind: k}\n  z: {kind: k, inputs: {zz: a, aa: [a, a.o], mm: a}}\n",
			names: []string{"a", "z"},
			inputs: map[string][]string{
				"z": {"aa[0]=a", "aa[1]=a.o", "mm=a", "zz=a"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sp := mustParse(t, map[string]string{"spec.yaml": tt.src}, tt.opt)
			if got := nodeNames(sp); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("nodes = %q\nwant    %q", got, tt.names)
			}
			for name, want := range tt.inputs {
				if got := inputList(findNode(t, sp, name)); !reflect.DeepEqual(got, want) {
					t.Errorf("inputs of %q = %q, want %q", name, got, want)
				}
			}
			// Every input names an existing node.
			exist := map[string]bool{}
			for _, n := range sp.Nodes {
				exist[n.Name] = true
			}
			for _, n := range sp.Nodes {
				for _, in := range n.Inputs {
					if !exist[in.Node] {
						t.Errorf("node %q input %q refers to missing %q", n.Name, in.Slot, in.Node)
					}
				}
			}
		})
	}
}

func TestExpansionDetails(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": gridSpec}, Options{})
	n := findNode(t, sp, "train[seed=1,method=bsgal,gen=noise]")
	wantCell := []AxisValue{{"seed", "1"}, {"method", "bsgal"}, {"gen", "noise"}}
	if !reflect.DeepEqual(n.Cell, wantCell) {
		t.Errorf("Cell = %v, want %v", n.Cell, wantCell)
	}
	if n.Base != "train" || n.Kind != "train" {
		t.Errorf("Base, Kind = %q, %q; want train, train", n.Base, n.Kind)
	}
	if got := plain(t, n.Params); !reflect.DeepEqual(got, map[string]any{"method": "bsgal"}) {
		t.Errorf("params = %v", got)
	}
	if got := findNode(t, sp, "data").Cell; got != nil {
		t.Errorf("shared node Cell = %v, want nil", got)
	}
	in := n.Inputs[1]
	if in.Ref != "gen_noise.images" || in.Output != "images" || in.Pos != (Pos{"spec.yaml", 14, 32}) {
		t.Errorf("input = %+v", in)
	}
	// Instances never share YAML nodes.
	a := findNode(t, sp, "gen_vae[seed=1]").Params
	b := findNode(t, sp, "gen_vae[seed=2]").Params
	if a == b || a.Content[1] == b.Content[1] {
		t.Error("instances share params nodes")
	}
	if plain(t, a.Content[1]) != 1 || plain(t, b.Content[1]) != 2 {
		t.Errorf("seeds = %v, %v; want 1, 2", plain(t, a.Content[1]), plain(t, b.Content[1]))
	}
}

func TestIncludes(t *testing.T) {
	files := map[string]string{
		"spec.yaml": `name: top
include: [common/pool.yaml, common/other.yaml]
vars: {n: 2}
nodes:
  train: {kind: t, inputs: {pool: pool}, params: {n: "${n}", m: "${m}"}}
`,
		"common/pool.yaml": `include: base.yaml
vars: {n: 1, m: 10}
nodes:
  pool: {kind: p, inputs: {b: base}}
`,
		"common/other.yaml": `include: [base.yaml]
nodes:
  other: {kind: o}
`,
		"common/base.yaml": `vars: {m: 5}
matrix: {s: [1]}
nodes:
  base: {kind: b}
`,
	}
	sp := mustParse(t, files, Options{})
	if got, want := nodeNames(sp), []string{"base", "pool", "other", "train"}; !reflect.DeepEqual(got, want) {
		t.Errorf("nodes = %q, want %q (included first, diamond once)", got, want)
	}
	if got := plain(t, findNode(t, sp, "train").Params); !reflect.DeepEqual(got, map[string]any{"n": 2, "m": 10}) {
		t.Errorf("params = %v, want the including file's vars to win", got)
	}
	base := findNode(t, sp, "base")
	if base.Pos != (Pos{"common/base.yaml", 4, 3}) {
		t.Errorf("base.Pos = %v", base.Pos)
	}
	if !filepath.IsAbs(base.Dir) || filepath.Base(base.Dir) != "common" {
		t.Errorf("base.Dir = %q, want the absolute dir of common/", base.Dir)
	}
	if len(sp.Matrix) != 1 || sp.Matrix[0].Name != "s" {
		t.Errorf("matrix = %+v, want the included axis", sp.Matrix)
	}
	if sp.Name != "top" || sp.File != "spec.yaml" {
		t.Errorf("Name, File = %q, %q", sp.Name, sp.File)
	}
}

func TestIncludedVarPositions(t *testing.T) {
	files := map[string]string{
		"spec.yaml":  "include: [lib/v.yaml]\nnodes:\n  a: {kind: k, params: {lr: \"${lr}\"}}\n",
		"lib/v.yaml": "vars:\n  lr: abc\n",
	}
	sp := mustParse(t, files, Options{})
	var p struct {
		LR float64 `yaml:"lr"`
	}
	errs := DecodeParams(sp.Nodes[0], &p)
	want := `lib/v.yaml:2:7: node "a": param "lr": cannot use "abc" (string) as float64`
	if errs.Error() != want {
		t.Errorf("DecodeParams = %q, want %q", errs.Error(), want)
	}
}

func TestProfiles(t *testing.T) {
	src := `vars: {n: 100}
matrix: {seed: [1, 2, 3], m: [a, b]}
profiles:
  full: {}
  ci: {vars: {n: 5}, matrix: {seed: [1]}}
nodes:
  a: {kind: k, params: {n: "${n}", s: "${seed}"}}
`
	tests := []struct {
		profile string
		set     map[string]string
		names   []string
		n       int
	}{
		{"", nil, []string{"a[seed=1]", "a[seed=2]", "a[seed=3]"}, 100},
		{"ci", nil, []string{"a[seed=1]"}, 5},
		{"full", nil, []string{"a[seed=1]", "a[seed=2]", "a[seed=3]"}, 100},
		{"ci", map[string]string{"n": "7", "seed": "3"}, []string{"a[seed=3]"}, 7},
		{"", map[string]string{"seed": "[2, 3]"}, []string{"a[seed=2]", "a[seed=3]"}, 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %v", tt.profile, tt.set), func(t *testing.T) {
			sp := mustParse(t, map[string]string{"spec.yaml": src}, Options{Profile: tt.profile, Set: tt.set})
			if got := nodeNames(sp); !reflect.DeepEqual(got, tt.names) {
				t.Errorf("nodes = %q, want %q", got, tt.names)
			}
			if got := plain(t, sp.Nodes[0].Params).(map[string]any)["n"]; got != tt.n {
				t.Errorf("n = %v, want %d", got, tt.n)
			}
			if !reflect.DeepEqual(sp.Profiles, []string{"ci", "full"}) {
				t.Errorf("Profiles = %q", sp.Profiles)
			}
			if got := plain(t, sp.Vars["n"]); got != tt.n {
				t.Errorf("Vars[n] = %v, want %d", got, tt.n)
			}
		})
	}
}

func TestSetErrors(t *testing.T) {
	src := "vars: {n: 1}\nmatrix: {s: [1]}\nnodes:\n  a: {kind: k}\n"
	tests := []struct {
		set  map[string]string
		want string
	}{
		{map[string]string{"m": "1"}, `spec.yaml: --set "m=1": unknown var or matrix axis "m" (did you mean "n"?)`},
		{map[string]string{"s": "{a: 1}"}, `spec.yaml: --set "s={a: 1}": matrix axis "s": values must be scalars, got mapping`},
		{map[string]string{"n": "[1"}, `spec.yaml: --set "n=[1": invalid value: yaml: did not find expected ',' or ']'`},
	}
	for _, tt := range tests {
		_, err := parseFiles(t, map[string]string{"spec.yaml": src}, Options{Set: tt.set})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Set %v: error %v, want %q", tt.set, err, tt.want)
		}
	}
}

func TestReport(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": gridSpec + `report:
  node: eval
  rows: [method, gen]
  over: [seed]
  metrics: [AP, APr]
  baseline: "method=none,gen=vae"
executor: slurm
`}, Options{})
	self := map[string]string{}
	for _, n := range sp.Nodes {
		if n.Base == "eval" {
			self[n.Name] = n.Name
		}
	}
	if len(self) != 8 {
		t.Fatalf("%d eval instances, want 8", len(self))
	}
	want := &Report{Node: "eval", Rows: []string{"method", "gen"}, Over: []string{"seed"},
		Metrics: []string{"AP", "APr"}, From: []int{0, 0},
		Sources:  []ReportSource{{Ref: "eval", Pos: Pos{"spec.yaml", 23, 9}, Instances: self}},
		Baseline: "method=none,gen=vae", Pos: Pos{"spec.yaml", 23, 3}}
	if !reflect.DeepEqual(sp.Report, want) {
		t.Errorf("Report = %+v, want %+v", sp.Report, want)
	}
	if sp.Executor != "slurm" || sp.ExecutorPos != (Pos{"spec.yaml", 28, 11}) {
		t.Errorf("Executor = %q at %v", sp.Executor, sp.ExecutorPos)
	}
}

// TestReportSources checks the mapping form of report metrics: each cell of the
// report node reads the instance of every named node in the same cell, through an
// interpolated name where the node differs per row.
func TestReportSources(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": `
matrix:
  seed: [1, 2]
  gen: [none, vae]
nodes:
  data: {kind: file}
  train_none: {kind: train, inputs: {data: data}, params: {seed: "${seed}"}}
  train_vae: {kind: train, inputs: {data: data}, params: {seed: "${seed}"}}
  eval: {kind: evaluate, inputs: {model: "train_${gen}", data: data}}
report:
  node: eval
  rows: [gen]
  over: [seed]
  metrics:
    eval: [AP]
    train_${gen}: [accept_rate, loss]
`}, Options{})
	r := sp.Report
	if !reflect.DeepEqual(r.Metrics, []string{"AP", "accept_rate", "loss"}) || !reflect.DeepEqual(r.From, []int{0, 1, 1}) {
		t.Fatalf("Metrics, From = %q, %v", r.Metrics, r.From)
	}
	if len(r.Sources) != 2 || r.Sources[0].Ref != "eval" || r.Sources[1].Ref != "train_${gen}" ||
		r.Sources[1].Pos != (Pos{"spec.yaml", 16, 5}) {
		t.Fatalf("Sources = %+v", r.Sources)
	}
	want := map[string]string{
		"eval[seed=1,gen=none]": "train_none[seed=1]",
		"eval[seed=1,gen=vae]":  "train_vae[seed=1]",
		"eval[seed=2,gen=none]": "train_none[seed=2]",
		"eval[seed=2,gen=vae]":  "train_vae[seed=2]",
	}
	if !reflect.DeepEqual(r.Sources[1].Instances, want) {
		t.Errorf("train instances = %v, want %v", r.Sources[1].Instances, want)
	}
	names := map[string]bool{}
	for _, n := range sp.Nodes {
		names[n.Name] = true
	}
	for _, src := range r.Sources {
		for from, to := range src.Instances {
			if !names[from] || !names[to] {
				t.Errorf("%s: %q -> %q names a node the spec does not have", src.Ref, from, to)
			}
		}
	}
}

func TestLoadFromDisk(t *testing.T) {
	sp, err := Load("testdata/valid/demo.yaml", Options{Profile: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"gen_a", "gen_b[seed=1]", "data",
		"train[seed=1,method=none]", "train[seed=1,method=bsgal]",
		"eval[seed=1,method=none]", "eval[seed=1,method=bsgal]"}
	if got := nodeNames(sp); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("nodes = %q, want %q", got, wantNames)
	}
	abs, _ := filepath.Abs("testdata/valid")
	if sp.Dir != abs || sp.File != "testdata/valid/demo.yaml" {
		t.Errorf("Dir, File = %q, %q; want %q, the path as given", sp.Dir, sp.File, abs)
	}
	tr := findNode(t, sp, "train[seed=1,method=bsgal]")
	if got := plain(t, tr.Params); !reflect.DeepEqual(got, map[string]any{
		"argv": []any{"sh", "-c", "echo 1 runs/bsgal 5"}, "n": 5, "pool_size": 40}) {
		t.Errorf("train params = %v", got)
	}
	if tr.Resources["cpu"] != 2 || tr.Retries != 1 || tr.Description != "ignored by keys" {
		t.Errorf("resources, retries, description = %v, %d, %q", tr.Resources, tr.Retries, tr.Description)
	}
	if g := findNode(t, sp, "gen_a"); g.Pos.File != "testdata/valid/common/pool.yaml" {
		t.Errorf("gen_a.Pos = %v, want it in the included file", g.Pos)
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, 9<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big, Options{})
	if want := big + ": spec is 9.0 MiB; the limit is 8 MiB"; err == nil || err.Error() != want {
		t.Errorf("Load(big) = %v, want %q", err, want)
	}
	missing := filepath.Join(dir, "nope.yaml")
	_, err = Load(missing, Options{})
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Pos != (Pos{File: missing}) ||
		!strings.Contains(list[0].Msg, "no such file") {
		t.Errorf("Load(missing) = %v, want one error at the file", err)
	}
}

func TestEmptyAndNameDefault(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": ""}, Options{})
	if sp.Name != "spec" || len(sp.Nodes) != 0 || sp.Report != nil {
		t.Errorf("empty spec = %+v", sp)
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	src := `vars:
  base: &base {lr: 0.1, epochs: 2}
nodes:
  a: {kind: k, params: {<<: *base, epochs: 5}}
  b: {kind: k, params: *base}
`
	sp := mustParse(t, map[string]string{"spec.yaml": src}, Options{})
	if got := plain(t, sp.Nodes[0].Params); !reflect.DeepEqual(got, map[string]any{"lr": 0.1, "epochs": 5}) {
		t.Errorf("merged params = %v", got)
	}
	if got := plain(t, sp.Nodes[1].Params); !reflect.DeepEqual(got, map[string]any{"lr": 0.1, "epochs": 2}) {
		t.Errorf("aliased params = %v", got)
	}
	_, err := parseFiles(t, map[string]string{"spec.yaml": "a: &a [*a]\n"}, Options{})
	if err == nil || !strings.Contains(err.Error(), "spec.yaml:1:8: alias \"a\" refers to a node that contains it") {
		t.Errorf("self alias: %v", err)
	}
}
