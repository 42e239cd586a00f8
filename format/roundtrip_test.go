package format_test

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
	"dagrun/nodes"
	"dagrun/nodes/annotate"
	"dagrun/nodes/data"
	"dagrun/nodes/evaluate"
	"dagrun/nodes/generate"
	"dagrun/nodes/noise"
	"dagrun/nodes/score"
	"dagrun/nodes/selection"
	"dagrun/nodes/spoil"
	"dagrun/nodes/train"
	"dagrun/nodes/vae"
	"dagrun/report"
)

// The test here runs every kind that writes a directory format and feeds
// its output to every kind (and report reader) that accepts that format,
// so that a writer and a reader cannot drift apart unnoticed. The unit
// tests beside it check each format's Save and Load alone.

// run builds a node of kind k with its default params changed by set and
// runs it on inputs, returning its output dir.
func run[P any](t *testing.T, k *nodes.Kind, set func(*P), inputs map[string][]string) string {
	t.Helper()
	p := k.Params().(*P)
	if set != nil {
		set(p)
	}
	n, err := k.Construct(nodes.Build{Dir: t.TempDir()}, p)
	if err != nil {
		t.Fatalf("kind %q: %v", k.Name, err)
	}
	out := t.TempDir()
	if err := n.Run(context.Background(), &nodes.Env{Inputs: inputs, OutDir: out, TempDir: t.TempDir()}); err != nil {
		t.Fatalf("kind %q: %v", k.Name, err)
	}
	return out
}

var classes = []string{"a", "b", "c", "d"}

// quadrants is a classification set of n 8×8 images: class c lights
// quadrant c.
func quadrants(t *testing.T, n int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	c := &format.Classification{N: n, H: 8, W: 8, Images: make([]uint8, n*64), Labels: make([]int64, n),
		Meta: format.ClassMeta{Classes: classes}}
	for i := range n {
		c.Labels[i] = int64(i % 4)
		for j := range 64 {
			v := r.IntN(40)
			if (j/32)*2+(j%8)/4 == i%4 {
				v += 180
			}
			c.Images[i*64+j] = uint8(v)
		}
	}
	dir := filepath.Join(t.TempDir(), "real")
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pngFolders writes per category folder two PNGs for pool-import.
func pngFolders(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for c, name := range classes {
		os.MkdirAll(filepath.Join(root, name), 0o755)
		for k := range 2 {
			img := image.NewGray(image.Rect(0, 0, 12, 12))
			for y := range 12 {
				for x := range 12 {
					if (y/6)*2+x/6 == c {
						img.SetGray(x, y, color.Gray{Y: uint8(200 + 20*k)})
					}
				}
			}
			f, err := os.Create(filepath.Join(root, name, strconv.Itoa(k)+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	return root
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkTrainOutputs reads a train node's decisions.csv with report's
// reader and its gallery (when there is one) with report's, against the
// pool union it was given, and its loss.csv and val.csv (when there is
// one) with report's curve reader; it returns the decision and gallery
// rows.
func checkTrainOutputs(t *testing.T, out string, pools *format.Pools) ([]report.Decision, []report.GalleryItem) {
	t.Helper()
	if xs, _, err := report.ParseCurve(format.LossFile, readFile(t, filepath.Join(out, format.LossFile)), "loss"); err != nil || len(xs) == 0 {
		t.Errorf("%s: %d rows, %v", format.LossFile, len(xs), err)
	}
	if b, err := os.ReadFile(filepath.Join(out, format.ValFile)); err == nil {
		if xs, _, err := report.ParseCurve(format.ValFile, b, "val_accuracy"); err != nil || len(xs) == 0 {
			t.Errorf("%s: %d rows, %v", format.ValFile, len(xs), err)
		}
	}
	ds, err := report.ParseDecisions(readFile(t, filepath.Join(out, format.DecisionsFile)))
	if err != nil {
		t.Fatalf("%s: %v", format.DecisionsFile, err)
	}
	for i, d := range ds {
		if i > 0 && d.Iteration <= ds[i-1].Iteration {
			t.Errorf("decision %d: iteration %d after %d", i, d.Iteration, ds[i-1].Iteration)
		}
		for src := range d.Sources {
			if pools != nil && !slices.Contains(pools.Sources, src) {
				t.Errorf("decision %d: source %q is not one of the pool's %q", i, src, pools.Sources)
			}
		}
	}
	gdir := filepath.Join(out, format.GalleryDir)
	if _, err := os.Stat(gdir); err != nil {
		return ds, nil
	}
	items, err := report.ParseGallery(readFile(t, filepath.Join(gdir, format.GalleryCSV)),
		readFile(t, filepath.Join(gdir, format.GalleryImages)), readFile(t, filepath.Join(gdir, format.GalleryMasks)))
	if err != nil {
		t.Fatalf("gallery: %v", err)
	}
	if len(items) == 0 {
		t.Fatal("an empty gallery was written")
	}
	for i, g := range items {
		if pools != nil && (g.Item < 0 || g.Item >= pools.N() || pools.Sources[pools.Source[g.Item]] != g.Source ||
			pools.Classes[pools.Labels[g.Item]] != g.Category) {
			t.Errorf("gallery row %d: item %d (%s, %s) is not that pool item", i, g.Item, g.Source, g.Category)
		}
	}
	return ds, items
}

// TestWritersThroughReaders runs the writers of every format into their
// readers (see the file comment).
func TestWritersThroughReaders(t *testing.T) {
	if testing.Short() {
		t.Skip("trains small networks")
	}
	// Classification dataset dirs, written by a data kind (split).
	splits := run(t, data.SplitKind(), func(p *data.SplitParams) { p.Parts, p.Seed = []float64{0.75, 0.25}, 3 },
		map[string][]string{"dataset": {quadrants(t, 48)}})
	realDir, testDir := filepath.Join(splits, "part0"), filepath.Join(splits, "part1")

	// Pools: noise's (a classification dir with a source) and
	// pool-import's (a generator's pool, classes read from a dataset dir).
	noisePool := run(t, noise.Kind(), func(p *noise.Params) { p.Sigma, p.Seed = 20, 4 }, map[string][]string{"dataset": {realDir}})
	genPool := run(t, generate.ImportKind(), func(p *generate.ImportParams) { p.Size, p.Source = 8, "imported" },
		map[string][]string{"images": {pngFolders(t)}, "classes": {realDir}})

	// Every pool dir (the dataset dir too) through the single-dir reader
	// and an annotator; masks through their reader.
	masks := map[string]string{}
	for name, dir := range map[string]string{"dataset": realDir, "noise": noisePool, "import": genPool} {
		p, err := format.LoadPool(dir)
		if err != nil {
			t.Fatalf("%s as a pool: %v", name, err)
		}
		if p.H != 8 || p.W != 8 || !slices.Equal(p.Meta.Classes, classes) || len(p.Labels) != p.N {
			t.Errorf("%s as a pool: %dx%d, classes %q, %d labels for %d items", name, p.H, p.W, p.Meta.Classes, len(p.Labels), p.N)
		}
		masks[name] = run[annotate.ThresholdParams](t, annotate.ThresholdKind(), nil, map[string][]string{"pool": {dir}})
		m, err := format.LoadMasks(masks[name])
		if err != nil {
			t.Fatalf("%s masks: %v", name, err)
		}
		if m.N != p.N || m.Meta.Annotator != "threshold" {
			t.Errorf("%s masks: %d for %d items, annotator %q", name, m.N, p.N, m.Meta.Annotator)
		}
	}
	pools := []string{noisePool, genPool, realDir}
	union, err := format.LoadPools(pools)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(union.Sources, []string{"noise-σ20", "imported", "pool2"}) {
		t.Errorf("pool sources %q", union.Sources)
	}

	// A model dir, written by train (lib/nn's weights under model/), read by
	// evaluate, score and select.
	if nn.ManifestFile != format.ModelManifest {
		t.Errorf("lib/nn writes %q, format.ModelManifest is %q", nn.ManifestFile, format.ModelManifest)
	}
	small := func(p *train.Params) {
		p.Arch, p.Hidden, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "mlp", []int{16}, 6, 8, 1, 5
	}
	model := run(t, train.Kind(), small, map[string][]string{"train": {realDir}, "val": {testDir}})
	if _, err := nn.Load(format.ResolveModel(model)); err != nil {
		t.Fatal(err)
	}
	if ds, items := checkTrainOutputs(t, model, nil); len(ds) != 0 || items != nil {
		t.Errorf("mode none: %d decisions, %d gallery items", len(ds), len(items))
	}
	run[evaluate.Params](t, evaluate.Kind(), nil, map[string][]string{"model": {model}, "test": {testDir}})

	// Scores, written by score over the union, read by train offline; its
	// decisions and gallery through report's readers.
	scores := run[score.Params](t, score.Kind(), nil, map[string][]string{"model": {model}, "real": {realDir}, "pool": pools})
	if _, _, err := format.LoadScores(scores, union.N()); err != nil {
		t.Fatal(err)
	}
	offline := run(t, train.Kind(), func(p *train.Params) { small(p); p.Select.Mode = train.ModeOffline },
		map[string][]string{"train": {realDir}, "pool": pools, "scores": {scores}})
	if _, items := checkTrainOutputs(t, offline, union); len(items) == 0 {
		t.Error("offline: no gallery")
	}
	online := run(t, train.Kind(), func(p *train.Params) { small(p); p.Select.Mode = train.ModeAll },
		map[string][]string{"train": {realDir}, "pool": pools})
	ds, items := checkTrainOutputs(t, online, union)
	if len(ds) != 6 || len(items) == 0 {
		t.Errorf("mode all: %d decisions (want one per iteration, 6), %d gallery items", len(ds), len(items))
	}

	// Instances, written by select over each pool (a train node's model as
	// the scorer), read by train's paster.
	var instDirs []string
	for _, name := range []string{"import", "noise", "dataset"} {
		pool := map[string]string{"dataset": realDir, "noise": noisePool, "import": genPool}[name]
		dir := run(t, selection.Kind(), func(p *selection.Params) { thr := 0.0; p.Threshold, p.MinArea, p.MaxArea = &thr, 0, 1 },
			map[string][]string{"pool": {pool}, "masks": {masks[name]}, "scorer": {model}})
		in, err := format.LoadInstances(dir)
		if err != nil {
			t.Fatal(err)
		}
		if in.N == 0 || in.Meta.Kept != in.N {
			t.Errorf("%s instances: %d items, meta kept %d", name, in.N, in.Meta.Kept)
		}
		instDirs = append(instDirs, dir)
	}
	scenes := segScenes(t)
	pasted := run(t, train.Kind(), func(p *train.Params) {
		p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{4, 8}, 3, 2, 1, 5
		p.Select.Mode, p.Paste.MaxPaste = train.ModeAll, 2
	}, map[string][]string{"train": {scenes}, "pool": instDirs})
	if ds, _ := checkTrainOutputs(t, pasted, nil); len(ds) == 0 {
		t.Error("paste: no decisions")
	}

	// A spoiled instances dir (spoil) is an instances dir train reads; its
	// truth.csv is read by selection-stats, joined with train's decisions.
	spoiled := run(t, spoil.Kind(), func(p *spoil.Params) { p.BoxMask, p.Fragment, p.Seed = 0.25, 0.25, 2 },
		map[string][]string{"instances": {instDirs[0]}})
	spoiledModel := run(t, train.Kind(), func(p *train.Params) {
		p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{4, 8}, 3, 2, 1, 5
		p.Select.Mode, p.Paste.MaxPaste = train.ModeAll, 2
	}, map[string][]string{"train": {scenes}, "pool": {spoiled}})
	sds, _ := checkTrainOutputs(t, spoiledModel, nil)
	stats := run[spoil.StatsParams](t, spoil.StatsKind(), nil, map[string][]string{"train": {spoiledModel}, "truth": {spoiled}})
	var st spoil.Stats
	if err := json.Unmarshal(readFile(t, filepath.Join(stats, "metrics.json")), &st); err != nil {
		t.Fatal(err)
	}
	offered, covered := 0, 0
	for _, n := range st.Offered {
		offered += n
	}
	for _, d := range sds {
		covered += len(d.Items)
	}
	if offered == 0 || offered != covered {
		t.Errorf("selection-stats counted %d offered items, decisions.csv covers %d", offered, covered)
	}
	// Train does not read the truth: with truth.csv garbled its outputs
	// are the same bytes.
	if err := os.WriteFile(filepath.Join(spoiled, format.TruthFile), []byte("garbled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	again := run(t, train.Kind(), func(p *train.Params) {
		p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{4, 8}, 3, 2, 1, 5
		p.Select.Mode, p.Paste.MaxPaste = train.ModeAll, 2
	}, map[string][]string{"train": {scenes}, "pool": {spoiled}})
	for _, f := range []string{format.DecisionsFile, format.LossFile, "metrics.json", filepath.Join(format.GalleryDir, format.GalleryCSV)} {
		if a, b := readFile(t, filepath.Join(spoiledModel, f)), readFile(t, filepath.Join(again, f)); string(a) != string(b) {
			t.Errorf("%s changed when truth.csv was garbled", f)
		}
	}

	// A VAE model dir, written by vae-train, read by vae-sample; its pool
	// joins the others.
	vm := run(t, vae.TrainKind(), func(p *vae.TrainParams) {
		p.Latent, p.Hidden, p.Iterations, p.BatchSize = 2, 8, 4, 8
	}, map[string][]string{"data": {realDir}})
	if head, _, _ := strings.Cut(string(readFile(t, filepath.Join(vm, format.LossFile))), "\n"); head != strings.Join(format.VAELossHeader, ",") {
		t.Errorf("vae-train's loss.csv header %q, format.VAELossHeader %q", head, format.VAELossHeader)
	}
	sampled := run(t, vae.SampleKind(), func(p *vae.SampleParams) { p.NPerClass = 3 }, map[string][]string{"model": {vm}})
	if u, err := format.LoadPools([]string{sampled, genPool}); err != nil || u.N() != 12+8 {
		t.Errorf("vae-sample's pool with pool-import's: %v", err)
	}
}

// segScenes is a segmentation dataset dir of 16×16 scenes over the
// classes, with size statistics for pasting.
func segScenes(t *testing.T) string {
	t.Helper()
	const n, s = 4, 16
	seg := &format.Segmentation{N: n, H: s, W: s, Images: make([]uint8, n*s*s), Semantic: make([]uint8, n*s*s),
		Instances: make([]int32, n*s*s), COCO: &artifact.COCO{},
		Meta: format.SegMeta{Classes: classes, Groups: map[string]string{}, SizeStats: map[string]format.SizeStat{}}}
	for i := range n {
		for y := 2; y < 8; y++ {
			for x := 2; x < 8; x++ {
				p := i*s*s + y*s + x
				seg.Images[p], seg.Semantic[p], seg.Instances[p] = 220, uint8(1+i%4), 1
			}
		}
	}
	for _, c := range classes {
		seg.Meta.SizeStats[c] = format.SizeStat{Count: 1, AreaMean: 36, SideMean: 6}
	}
	dir := filepath.Join(t.TempDir(), "scenes")
	if err := seg.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCOCOSetThroughEvaluate feeds a coco kind's segmentation dir to
// evaluate and scores evaluate's detections.json against the dir's
// annotations.json from the two files alone (as the official tools read
// them): the numbers must be metrics.json's, so the two files agree on
// image and category ids, masks and order. The COCO file has unsorted,
// sparse image and category ids, an image with two instances of a category
// and equal scores across images.
func TestCOCOSetThroughEvaluate(t *testing.T) {
	const s = 16
	dir := t.TempDir()
	// Squares (x0, y0, side, brightness) per image.
	type square struct{ x, y, side, v int }
	scenes := map[string][]square{"a.png": {{1, 1, 5, 200}, {9, 9, 6, 220}}, "b.png": {{2, 8, 4, 200}}, "c.png": {{8, 1, 5, 200}, {1, 9, 5, 220}}}
	for name, sq := range scenes {
		g := image.NewGray(image.Rect(0, 0, s, s))
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				g.SetGray(x, y, color.Gray{Y: 10})
			}
		}
		for _, q := range sq {
			for y := q.y; y < q.y+q.side; y++ {
				for x := q.x; x < q.x+q.side; x++ {
					g.SetGray(x, y, color.Gray{Y: uint8(q.v)})
				}
			}
		}
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, g); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	poly := func(q square) string {
		x0, y0, x1, y1 := strconv.Itoa(q.x), strconv.Itoa(q.y), strconv.Itoa(q.x+q.side), strconv.Itoa(q.y+q.side)
		return "[[" + x0 + "," + y0 + "," + x1 + "," + y0 + "," + x1 + "," + y1 + "," + x0 + "," + y1 + "]]"
	}
	a, b, c := scenes["a.png"], scenes["b.png"], scenes["c.png"]
	js := `{
 "images": [{"id": 50, "file_name": "a.png"}, {"id": 40, "file_name": "b.png"}, {"id": 60, "file_name": "c.png"}],
 "categories": [{"id": 9, "name": "nine", "frequency": "f"}, {"id": 3, "name": "three", "frequency": "r"}],
 "annotations": [
  {"id": 7, "image_id": 50, "category_id": 3, "segmentation": ` + poly(a[0]) + `, "iscrowd": 0},
  {"id": 2, "image_id": 50, "category_id": 3, "segmentation": ` + poly(a[1]) + `, "iscrowd": 0},
  {"id": 3, "image_id": 40, "category_id": 9, "segmentation": ` + poly(b[0]) + `, "iscrowd": 0},
  {"id": 4, "image_id": 60, "category_id": 9, "segmentation": ` + poly(c[0]) + `, "iscrowd": 0},
  {"id": 5, "image_id": 60, "category_id": 3, "segmentation": ` + poly(c[1]) + `, "iscrowd": 0}
 ]
}`
	if err := os.WriteFile(filepath.Join(dir, "ann.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	set := run(t, data.COCOKind(), func(p *data.COCOParams) { p.Annotations, p.Images = filepath.Join(dir, "ann.json"), dir }, nil)

	// An fcn set by hand: bright pixels (above 0.35·255) are category 1
	// ("three", id 3 renumbered), the rest background, brighter ones more
	// confidently; so "three" is found and every "nine" is a false positive.
	m, err := nn.New(nn.Config{Arch: nn.ArchFCN, Classes: 2, H: s, W: s, Channels: []int{1, 1}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		clear(p.F32)
		switch p.Name {
		case "conv1.weight", "conv2.weight":
			p.F32[4] = 1 // centre tap: pass the input through
		case "head.weight":
			p.F32[1*2+0] = 10
		case "head.bias":
			p.F32[1], p.F32[2] = -3.5, -100
		}
	}
	modelDir := filepath.Join(t.TempDir(), "model")
	if err := m.Save(modelDir); err != nil {
		t.Fatal(err)
	}
	gt, err := artifact.LoadCOCO(filepath.Join(set, format.AnnotationsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, protocol := range []string{"coco", "lvis"} {
		out := run(t, evaluate.Kind(), func(p *evaluate.Params) { p.Protocol = protocol }, map[string][]string{"model": {modelDir}, "test": {set}})
		var got evaluate.SegmentationMetrics
		b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		results, err := artifact.LoadCOCOResults(filepath.Join(out, format.DetectionsFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(results) != 5 || got.Detections != 5 {
			t.Errorf("%s: %d results, metrics.json says %d detections; want 5 (every square)", protocol, len(results), got.Detections)
		}
		r, err := evaluate.ScoreResults(gt, results, metrics.Protocol(protocol))
		if err != nil {
			t.Fatal(err)
		}
		if r.AP != got.AP || r.AP50 != got.AP50 || r.AP75 != got.AP75 || r.APr != got.APr || r.APc != got.APc || r.APf != got.APf {
			t.Errorf("%s: from the files AP %v AP50 %v AP75 %v APr %v APc %v APf %v; metrics.json %s", protocol, r.AP, r.AP50, r.AP75, r.APr, r.APc, r.APf, b)
		}
		// Images in id order: b (40), a (50), c (60). Every square is a
		// "three" detection with its exact mask; the "three"s are a's two
		// and c's 220 one, the others ("nine"s) false positives. Ranked:
		// the 220s (a, c: TP TP), then the 200s in image order (b FP, a TP,
		// c FP): precision 1 up to recall 2/3 (levels 0.00–0.66, 67 of
		// them), then 3/4 (0.67–1.00, 34): APr = (67 + 34·3/4)/101 = 92.5/101
		// at every IoU threshold. "nine" (frequent) is never found: APf 0.
		if math.Abs(got.APr-92.5/101) > 1e-12 || got.APf != 0 || math.Abs(got.AP-92.5/202) > 1e-12 {
			t.Errorf("%s: APr %v APf %v AP %v, want 92.5/101, 0, 92.5/202", protocol, got.APr, got.APf, got.AP)
		}

		// train's validation scores its model as evaluate does: a train
		// node validated on the set (in batches of 2; evaluate's are 64)
		// reports in val.csv's last row the AP evaluate gives its model.
		trained := run(t, train.Kind(), func(p *train.Params) {
			p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{8, 8}, 60, 2, 5, 3
			p.Optimizer, p.LR = "adamw", 0.02
			p.Val.Protocol, p.Val.Instances = protocol, evaluate.InstancesByForeground
		}, map[string][]string{"train": {set}, "val": {set}})
		rows, seg, err := format.ParseVal(readFile(t, filepath.Join(trained, format.ValFile)))
		if err != nil || !seg || len(rows) != 1 {
			t.Fatalf("%s: val.csv %+v, segmentation %v, %v", protocol, rows, seg, err)
		}
		ev := run(t, evaluate.Kind(), func(p *evaluate.Params) { p.Protocol, p.Instances = protocol, evaluate.InstancesByForeground },
			map[string][]string{"model": {trained}, "test": {set}})
		var em evaluate.SegmentationMetrics
		if err := json.Unmarshal(readFile(t, filepath.Join(ev, "metrics.json")), &em); err != nil {
			t.Fatal(err)
		}
		v := rows[0]
		if v.AP <= 0 {
			t.Errorf("%s: val AP %v: the comparison needs detections", protocol, v.AP)
		}
		if v.AP != em.AP || v.AP50 != em.AP50 || v.AP75 != em.AP75 || v.APr != em.APr || v.APc != em.APc || v.APf != em.APf || v.Accuracy != em.PixelAccuracy {
			t.Errorf("%s: val.csv %+v, evaluate %+v", protocol, v, em)
		}
	}
}
