package experiments_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/metrics"
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
	for _, name := range []string{"mnist", "fashion-mnist"} {
		if _, err := data.IDXFiles(name, filepath.Join("..", "experiments")); err != nil {
			t.Skip(err)
		}
	}
}

// outcome is what one run leaves: per node, its output digest, its files'
// digests and blob paths (in the run's cache, which lives as long as the
// test) by path, and its metrics.
type outcome struct {
	digest map[string]string
	files  map[string]map[string]string
	blobs  map[string]map[string]string
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
	out := outcome{digest: map[string]string{}, files: map[string]map[string]string{}, blobs: map[string]map[string]string{},
		metric: map[string]map[string]float64{}}
	for _, r := range sum.Results {
		if r.State != dag.Done {
			t.Fatalf("node %q ended %s in a cold cache, want done", r.Node.Name(), r.State)
		}
		name := r.Node.Name()
		out.digest[name] = r.Digest()
		out.files[name] = map[string]string{}
		out.blobs[name] = map[string]string{}
		for _, f := range r.Entry.Manifest {
			out.files[name][f.Path] = f.Digest
			out.blobs[name][f.Path] = c.BlobPath(f.Digest)
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

	var trainNode, evalNode, ltsegNode string
	for name := range a.digest {
		switch {
		case strings.HasPrefix(name, "train["):
			trainNode = name
		case strings.HasPrefix(name, "evaluate["):
			evalNode = name
		case name == "ltseg" || strings.HasPrefix(name, "ltseg["):
			ltsegNode = name
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

	checkDetectionsFile(t, a, evalNode, ltsegNode)
}

// checkDetectionsFile scores the evaluate node's detections.json against
// the lt-seg test set's annotations.json from the two files alone (as the
// official COCO tool reads them) and requires metrics.json's numbers. The
// ci profile's model may detect nothing, so it also scores made-up
// detections of the real test set both ways: from the arrays the evaluate
// kind reads (instances.npy, semantic.npy) and from annotations.json and
// the COCO results they make, which must agree on ids, masks and order.
func checkDetectionsFile(t *testing.T, o outcome, evalNode, ltsegNode string) {
	t.Helper()
	gtPath := o.blobs[ltsegNode]["test/"+format.AnnotationsFile]
	coco, err := artifact.LoadCOCO(gtPath)
	if err != nil {
		t.Fatalf("ltseg node %q: %v", ltsegNode, err)
	}
	results, err := artifact.LoadCOCOResults(o.blobs[evalNode][format.DetectionsFile])
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, got metrics.Result, want map[string]float64) {
		t.Helper()
		for _, c := range []struct {
			name string
			got  float64
		}{{"AP", got.AP}, {"AP50", got.AP50}, {"AP75", got.AP75}, {"APr", got.APr}, {"APc", got.APc}, {"APf", got.APf}} {
			if w, ok := want[c.name]; !ok || c.got != w {
				t.Errorf("%s: %s = %v, want %v (present %v)", what, c.name, c.got, w, ok)
			}
		}
	}
	r, err := evaluate.ScoreResults(coco, results, metrics.COCO)
	if err != nil {
		t.Fatal(err)
	}
	same("detections.json against annotations.json", r, o.metric[evalNode])

	// The test set as a folder, to read it as the evaluate kind does.
	dir := t.TempDir()
	for p, blob := range o.blobs[ltsegNode] {
		if rel, ok := strings.CutPrefix(p, "test/"); ok {
			b, err := os.ReadFile(blob)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, rel), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	d, err := format.LoadSegmentation(dir)
	if err != nil {
		t.Fatal(err)
	}
	gt, err := evaluate.GroundTruth(d)
	if err != nil {
		t.Fatal(err)
	}
	// Per instance: its mask with random pixels dropped, under its category
	// or a random one, sometimes twice; scores on a coarse grid so that
	// ties occur.
	rng := rand.New(rand.NewPCG(7, 8))
	var dets []metrics.Instance
	for _, g := range gt {
		for copies := 1 + rng.IntN(2); copies > 0; copies-- {
			x := metrics.Instance{Image: g.Image, Category: g.Category, Score: float64(rng.IntN(5)) / 4}
			if rng.IntN(4) == 0 {
				x.Category = 1 + rng.IntN(len(d.Meta.Classes))
			}
			keep := 0.5 + rng.Float64()/2
			for _, p := range g.Pixels {
				if rng.Float64() < keep {
					x.Pixels = append(x.Pixels, p)
				}
			}
			if len(x.Pixels) > 0 {
				dets = append(dets, x)
			}
		}
	}
	var cats []int
	groups := map[int]string{}
	for c, name := range d.Meta.Classes {
		cats = append(cats, c+1)
		groups[c+1] = d.Meta.Groups[name][:1]
	}
	for _, p := range []metrics.Protocol{metrics.COCO, metrics.LVIS} {
		fromArrays, err := p.MaskAP(gt, dets, cats, groups)
		if err != nil {
			t.Fatal(err)
		}
		fromFiles, err := evaluate.ScoreResults(d.COCO, evaluate.Results(dets, d.H, d.W), p)
		if err != nil {
			t.Fatal(err)
		}
		if fromArrays.AP <= 0 {
			t.Errorf("%s: made-up detections score AP %v, want some", p, fromArrays.AP)
		}
		same(string(p)+": made-up detections from the files", fromFiles, map[string]float64{"AP": fromArrays.AP, "AP50": fromArrays.AP50,
			"AP75": fromArrays.AP75, "APr": fromArrays.APr, "APc": fromArrays.APc, "APf": fromArrays.APf})
	}
}
