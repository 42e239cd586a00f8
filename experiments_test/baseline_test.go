package experiments_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/data"
	"dagrun/nodes/evaluate"
	"dagrun/nodes/train"
	"dagrun/spec"
)

// registry holds the kinds the experiments under test use (the same
// constructors cmd/dagrun's registry lists).
func registry() *nodes.Registry {
	kinds := []*nodes.Kind{train.Kind(), evaluate.Kind()}
	return nodes.NewRegistry(append(kinds, data.Kinds()...)...)
}

// needData skips the test when the idx files of mnist and fashion-mnist are
// in none of the places the dataset kind looks.
func needData(t *testing.T) {
	t.Helper()
	roots := []string{filepath.Join("..", "third_party", "data")}
	if d := os.Getenv("DAGRUN_DATA"); d != "" {
		roots = append([]string{d}, roots...)
	}
	for _, name := range []string{"mnist", "fashion-mnist"} {
		found := false
		for _, r := range roots {
			if _, err := os.Stat(filepath.Join(r, name, "train-images-idx3-ubyte.gz")); err == nil {
				found = true
			}
		}
		if !found {
			t.Skipf("no %s idx files in %v; run `make data`", name, roots)
		}
	}
}

// outcome is what one run leaves: per node, its output digest and its
// files' digests by path.
type outcome struct {
	digest map[string]string
	files  map[string]map[string]string
	metric map[string]map[string]float64
}

func runSpec(t *testing.T, path, profile string) outcome {
	t.Helper()
	ctx := context.Background()
	s, err := spec.Load(path, spec.Options{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	g, err := dag.Build(s, registry())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 2}}).Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	out := outcome{digest: map[string]string{}, files: map[string]map[string]string{}, metric: map[string]map[string]float64{}}
	for _, r := range sum.Results {
		if r.State != dag.Done {
			t.Fatalf("node %q ended %s in a cold cache, want done", r.Node.Name(), r.State)
		}
		name := r.Node.Name()
		out.digest[name] = r.Digest()
		out.files[name] = map[string]string{}
		for _, f := range r.Entry.Manifest {
			out.files[name][f.Path] = f.Digest
		}
		if out.metric[name], err = c.Metrics(ctx, r.Key); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestBaselineCIDeterministic runs experiments/baseline.yaml --profile ci
// twice, each time into an empty cache, and requires bit-identical outputs
// of every node: the checkpoint files, metrics.json and everything else.
func TestBaselineCIDeterministic(t *testing.T) {
	if testing.Short() {
		// About 20 s of CPU (a minute of wall time on a busy 2-core
		// machine), several minutes under -race.
		t.Skip("two cold runs of the baseline's ci profile: skipped with -short")
	}
	needData(t)
	path := filepath.Join("..", "experiments", "baseline.yaml")
	a := runSpec(t, path, "ci")
	b := runSpec(t, path, "ci")

	var trainNode, evalNode string
	for name := range a.digest {
		switch {
		case strings.HasPrefix(name, "train["):
			trainNode = name
		case strings.HasPrefix(name, "evaluate["):
			evalNode = name
		}
	}
	if trainNode == "" || evalNode == "" {
		t.Fatalf("nodes %v: want one train and one evaluate cell", a.digest)
	}
	ckpt := 0
	for p, d := range a.files[trainNode] {
		if strings.HasPrefix(p, "model/") {
			ckpt++
			if b.files[trainNode][p] != d {
				t.Errorf("checkpoint file %s: digest %s then %s", p, d, b.files[trainNode][p])
			}
		}
	}
	if ckpt < 2 {
		t.Errorf("train output %v holds no checkpoint (model/model.json and weights)", a.files[trainNode])
	}
	if d := a.files[evalNode]["metrics.json"]; d == "" || b.files[evalNode]["metrics.json"] != d {
		t.Errorf("metrics.json digests %q then %q, want equal and present", d, b.files[evalNode]["metrics.json"])
	}
	for name, d := range a.digest {
		if b.digest[name] != d {
			t.Errorf("node %q: output digest %s then %s", name, d, b.digest[name])
		}
	}
	for _, k := range []string{"AP", "APr", "APc", "APf"} {
		v, ok := a.metric[evalNode][k]
		if !ok || v < -1 || v > 1 {
			t.Errorf("metric %s = %v (present %v), want a value in [-1, 1]", k, v, ok)
		}
		if b.metric[evalNode][k] != v {
			t.Errorf("metric %s = %v then %v", k, v, b.metric[evalNode][k])
		}
	}
}
