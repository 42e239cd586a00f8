package main

import (
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"dagrun/dag"
	"dagrun/executor/slurm"
	"dagrun/nodes"
	"dagrun/spec"
)

// requiredParams are the params without which a kind's constructor refuses
// its defaults; every other kind is bound with no params at all.
var requiredParams = map[string]string{
	"coco":          `{annotations: ann.json, images: img}`,
	"command":       `{argv: [sh, -c, "true"]}`,
	"file":          `{path: words.txt}`,
	"onnx-generate": `{model: gen.onnx}`,
	"onnx-saliency": `{model: sal.onnx}`,
}

// nonDefault are nodes whose params stress the way a Slurm job carries
// them (the spec's YAML, re-encoded and decoded again): floats in
// exponent and short forms, the largest uint64 seed, strings that would
// read as other types, nested mappings, lists, a null pointer, paths that
// stay out of the key (json:"-"), and values interpolated from a matrix.
const nonDefault = `
  nd_train:
    kind: train
    inputs: {train: up}
    params:
      lr: 1e-4
      momentum: .95
      weight_decay: 5.0e-4
      seed: 18446744073709551615
      hidden: [64, 32]
      select: {mode: bsgal, rate: "${rate}", tau: -0.05, subset: ["yes", "1.0", "~"]}
      paste: {flip: 0.25, max_paste: 3}
  nd_command:
    kind: command
    inputs: {x: up}
    params:
      argv: [sh, -c, "echo ${word} > {out}/w.txt", "yes", "1.0", "~", "null", "0x10", "010", "1_000", ": x", "#y", "é\t"]
      env: {A: "1", B: "true", C: ""}
      stdout: out.txt
  nd_select:
    kind: select
    inputs: {pool: up, masks: up}
    params: {threshold: 0.3, mean: [0.5, 0.25, 0.125], prompt: "a {category}: yes", image_model: img.onnx}
  nd_select_null:
    kind: select
    inputs: {pool: up, masks: up}
    params: {threshold: null, scorer: classifier}
  nd_onnx:
    kind: onnx-generate
    params: {model: ../models/g.onnx, temperature: 0.7, classes: [a, "b c"], threads: 3}
  nd_score:
    kind: score
    inputs: {model: up, real: up, pool: up}
    params: {tau: -0.1, top: 1, normalize: false}
`

// TestSlurmJobBindsLikeBuild: for every kind in the registry (with default
// params where its constructor takes them) and for nodes with non-default
// params, the node a Slurm job rebinds from its job file has the params
// that dag.Build bound: the same canonical JSON (the key's params) and the
// same decoded values, those that stay out of the key included.
func TestSlurmJobBindsLikeBuild(t *testing.T) {
	reg := registry()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("name: bind\nmatrix:\n  rate: [0.5, 1e-1]\n  word: [\"yes\", \"1.0\"]\nnodes:\n")
	b.WriteString("  up: {kind: command, params: {argv: [sh, -c, \"true\"]}}\n")
	want := map[string]bool{}
	for _, name := range reg.Names() {
		k, _ := reg.Lookup(name)
		want[name] = true
		fmt.Fprintf(&b, "  k_%s:\n    kind: %s\n", strings.ReplaceAll(name, "-", "_"), name)
		var slots []string
		for _, s := range k.Inputs {
			if !s.Optional {
				slots = append(slots, s.Name+": up")
			}
		}
		if len(slots) > 0 {
			fmt.Fprintf(&b, "    inputs: {%s}\n", strings.Join(slots, ", "))
		}
		if p, ok := requiredParams[name]; ok {
			fmt.Fprintf(&b, "    params: %s\n", p)
		}
	}
	b.WriteString(nonDefault)
	path := filepath.Join(dir, "spec", "bind.yaml")
	write(t, path, b.String())
	s, err := spec.Load(path, spec.Options{})
	if err != nil {
		t.Fatalf("load:\n%v\nspec:\n%s", err, b.String())
	}
	g, err := dag.Build(s, reg)
	if err != nil {
		t.Fatalf("build:\n%v", err)
	}

	seen := map[string]bool{}
	for _, n := range g.Nodes {
		seen[n.Kind.Name] = true
		t.Run(n.Name(), func(t *testing.T) {
			scratch := t.TempDir()
			job := &dag.Job{Node: n, Key: "key", Env: &nodes.Env{
				OutDir: filepath.Join(scratch, "out"), TempDir: filepath.Join(scratch, "tmp"),
			}}
			jf, err := slurm.NewJobFile(job, filepath.Join(scratch, "job.log"))
			if err != nil {
				t.Fatal(err)
			}
			// Through the file, as `dagrun exec` reads it.
			jobPath := filepath.Join(scratch, "job.json")
			if err := slurm.WriteJobFile(jobPath, jf); err != nil {
				t.Fatal(err)
			}
			if jf, err = slurm.ReadJobFile(jobPath); err != nil {
				t.Fatal(err)
			}
			bound, err := slurm.BindJob(jf, reg)
			if err != nil {
				t.Fatalf("job rebind: %v\nparams_yaml:\n%s", err, jf.ParamsYAML)
			}
			if bound.ParamsJSON != n.ParamsJSON {
				t.Errorf("job params %s, Build keyed %s", bound.ParamsJSON, n.ParamsJSON)
			}
			if !reflect.DeepEqual(bound.Params, n.Params) {
				t.Errorf("job decoded %+v, Build %+v", bound.Params, n.Params)
			}
		})
	}
	var missing []string
	for name := range want {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("kinds not exercised: %v", missing)
	}
	// The stress nodes must really carry what they were meant to.
	for name, frag := range map[string]string{
		"nd_train[rate=1e-1]":  `"lr":0.0001,"momentum":0.95`,
		"nd_train[rate=1e-1] ": `"rate":0.1,`,
		"nd_train[rate=0.5]":   `"seed":18446744073709551615`,
		"nd_command[word=1.0]": `"echo 1.0 \u003e {out}/w.txt","yes","1.0","~","null"`,
		"nd_select_null":       `"threshold":null`,
	} {
		n, ok := g.Node(strings.TrimSpace(name))
		if !ok {
			t.Errorf("no node %q", name)
			continue
		}
		if !strings.Contains(n.ParamsJSON, frag) {
			t.Errorf("%s params %s lack %s", name, n.ParamsJSON, frag)
		}
	}
}
