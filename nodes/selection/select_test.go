package selection

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/nn"
	ot "dagrun/lib/onnx/onnxtest"
	"dagrun/nodes"
)

func TestChoose(t *testing.T) {
	// Three annotators, five items.
	scores := [][]float64{
		{0.9, 0.30, 0.10, 0.50, 0.6},
		{0.2, 0.30, 0.15, 0.70, 0.6},
		{0.4, 0.25, 0.05, 0.65, math.NaN()},
	}
	areas := [][]float64{
		{0.30, 0.50, 0.5, 0.5, 0.5},
		{0.99, 0.60, 0.5, 0.01, 0.5},
		{0.30, 0.50, 0.5, 0.5, 0.5},
	}
	got := Choose(scores, areas, 0.21, 0.05, 0.95)
	want := []Decision{
		{Best: 0, Score: 0.9, Area: 0.30},                      // clear winner
		{Best: 0, Score: 0.30, Area: 0.50},                     // tie 0.30/0.30: the first annotator
		{Best: 1, Score: 0.15, Area: 0.5, Reason: ReasonScore}, // best is under 0.21
		{Best: 1, Score: 0.70, Area: 0.01, Reason: ReasonArea}, // best mask is too small
		{Best: 0, Score: 0.6, Area: 0.5},                       // NaN never wins
	}
	if !slices.Equal(got, want) {
		t.Errorf("Choose =\n%v, want\n%v", got, want)
	}
	// The area bounds are inclusive; the score threshold too.
	d := Choose([][]float64{{0.21, 0.21, 0.21}}, [][]float64{{0.05, 0.95, 0.951}}, 0.21, 0.05, 0.95)
	if !d[0].Kept() || !d[1].Kept() || d[2].Reason != ReasonArea {
		t.Errorf("bounds: %v", d)
	}
}

func TestCompositeArea(t *testing.T) {
	img := []uint8{10, 20, 30, 40}
	if got := Composite(img, []uint8{1, 0, 1, 0}); !slices.Equal(got, []uint8{10, 0, 30, 0}) {
		t.Errorf("Composite = %v", got)
	}
	if got := AreaFraction([]uint8{1, 0, 1, 1}); got != 0.75 {
		t.Errorf("AreaFraction = %v", got)
	}
}

// fixture is a pool of n 8×8 images (a bright square on dark noise, class
// i%2) with three annotators: "square" (the true square), "all" (the whole
// image: area 1, dropped by max_area when chosen) and "corner" (a 2×2
// corner that misses the square).
type fixture struct {
	pool  string
	masks []string
	p     *format.Pool
}

func newFixture(t *testing.T, n int) fixture {
	t.Helper()
	const s = 8
	r := rand.New(rand.NewPCG(11, 12))
	img := make([]uint8, n*s*s)
	sq, all, corner := make([]uint8, n*s*s), make([]uint8, n*s*s), make([]uint8, n*s*s)
	for i := 0; i < n; i++ {
		side := 3 + i%4
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				j := i*s*s + y*s + x
				img[j] = uint8(r.IntN(50))
				all[j] = 1
				if y >= 1 && y < 1+side && x >= 1 && x < 1+side {
					img[j] = uint8(150 + r.IntN(100))
					sq[j] = 1
				}
				if y >= 6 && x >= 6 {
					corner[j] = 1
				}
			}
		}
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % 2)
	}
	root := t.TempDir()
	f := fixture{pool: filepath.Join(root, "pool")}
	os.MkdirAll(f.pool, 0o755)
	must(t, artifact.SaveNPY(filepath.Join(f.pool, "images.npy"), artifact.U8Array(img, n, s, s)))
	must(t, artifact.SaveNPY(filepath.Join(f.pool, "labels.npy"), artifact.I64Array(labels, n)))
	must(t, os.WriteFile(filepath.Join(f.pool, "meta.json"), []byte(`{"task":"pool","classes":["digit","shirt"],"source":"test-gen","per_class":2}`), 0o644))
	var err error
	if f.p, err = format.LoadPool(f.pool); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		v    []uint8
	}{{"square", sq}, {"all", all}, {"corner", corner}} {
		d := filepath.Join(root, m.name)
		os.MkdirAll(d, 0o755)
		ms := &format.Masks{N: n, H: s, W: s, Masks: m.v, Meta: format.MasksMeta{Annotator: m.name}}
		must(t, ms.Save(d, f.p))
		f.masks = append(f.masks, d)
	}
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type output struct {
	dir     string
	meta    format.InstancesMeta
	metrics Metrics
	images  *artifact.Array
	masks   *artifact.Array
	labels  *artifact.Array
	scores  *artifact.Array
}

func runSelect(t *testing.T, f fixture, build nodes.Build, scorer string, set func(*Params)) (*output, error) {
	t.Helper()
	p := DefaultParams()
	set(&p)
	n, err := Kind().New(build, &p)
	if err != nil {
		return nil, err
	}
	in := map[string][]string{"pool": {f.pool}, "masks": f.masks}
	if scorer != "" {
		in["scorer"] = []string{scorer}
	}
	o := &output{dir: t.TempDir()}
	if err := n.Run(context.Background(), &nodes.Env{Inputs: in, OutDir: o.dir, TempDir: t.TempDir()}); err != nil {
		return nil, err
	}
	for name, v := range map[string]any{"meta.json": &o.meta, "metrics.json": &o.metrics} {
		b, err := os.ReadFile(filepath.Join(o.dir, name))
		must(t, err)
		must(t, json.Unmarshal(b, v))
	}
	for name, a := range map[string]**artifact.Array{"images.npy": &o.images, "masks.npy": &o.masks, "labels.npy": &o.labels, "scores.npy": &o.scores} {
		if *a, err = artifact.LoadNPY(filepath.Join(o.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(o.dir, "kept_vs_dropped.png")); err != nil {
		t.Error(err)
	}
	return o, nil
}

// check verifies an output against decisions computed independently from
// per-annotator scores (want[a][i]).
func check(t *testing.T, f fixture, o *output, want [][]float64, thr, minA, maxA float64) {
	t.Helper()
	names := []string{"square", "all", "corner"}
	hw := f.p.H * f.p.W
	k := 0
	dropped := map[string]int{ReasonScore: 0, ReasonArea: 0}
	chosen := map[string]int{"square": 0, "all": 0, "corner": 0}
	areas := []float64{0, 1, 4.0 / 64}
	for i := 0; i < f.p.N; i++ {
		side := 3 + i%4
		areas[0] = float64(side*side) / 64
		best := 0
		for a := 1; a < 3; a++ {
			if want[a][i] > want[best][i] {
				best = a
			}
		}
		switch {
		case want[best][i] < thr:
			dropped[ReasonScore]++
			continue
		case areas[best] < minA || areas[best] > maxA:
			dropped[ReasonArea]++
			continue
		}
		chosen[names[best]]++
		if k >= o.labels.Len() {
			t.Fatalf("fewer kept items than expected")
		}
		if o.labels.I64[k] != f.p.Labels[i] || !slices.Equal(o.images.U8[k*hw:(k+1)*hw], f.p.Image(i)) {
			t.Errorf("kept item %d is not pool item %d", k, i)
		}
		if math.Abs(float64(o.scores.F32[k])-want[best][i]) > 1e-5 {
			t.Errorf("item %d: score %v, want %v", i, o.scores.F32[k], want[best][i])
		}
		var m []uint8
		for j := 0; j < hw; j++ {
			y, x := j/8, j%8
			switch best {
			case 0:
				m = append(m, b2u(y >= 1 && y < 1+side && x >= 1 && x < 1+side))
			case 1:
				m = append(m, 1)
			case 2:
				m = append(m, b2u(y >= 6 && x >= 6))
			}
		}
		if !slices.Equal(o.masks.U8[k*hw:(k+1)*hw], m) {
			t.Errorf("item %d: kept mask is not annotator %q's", i, names[best])
		}
		k++
	}
	if o.meta.Kept != k || o.labels.Len() != k || o.metrics.Kept != k || o.metrics.KeptRate != float64(k)/float64(f.p.N) {
		t.Errorf("kept %d (meta %d, metrics %d, rate %v), want %d", o.labels.Len(), o.meta.Kept, o.metrics.Kept, o.metrics.KeptRate, k)
	}
	if !mapsEqual(o.meta.Dropped, dropped) || o.metrics.DroppedScore != dropped[ReasonScore] || o.metrics.DroppedArea != dropped[ReasonArea] {
		t.Errorf("dropped %v / %d, %d, want %v", o.meta.Dropped, o.metrics.DroppedScore, o.metrics.DroppedArea, dropped)
	}
	t.Logf("kept %d of %d, dropped %v, chosen %v", k, f.p.N, dropped, chosen)
	if !mapsEqual(o.meta.Chosen, chosen) {
		t.Errorf("chosen %v, want %v", o.meta.Chosen, chosen)
	}
	if o.meta.Task != format.TypeInstances || o.meta.Source != "test-gen" || !slices.Equal(o.meta.Annotators, names) || o.meta.Threshold != thr {
		t.Errorf("meta = %+v", o.meta)
	}
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSelectClassifier(t *testing.T) {
	f := newFixture(t, 12)
	// A seeded, untrained cnn: its probabilities are arbitrary but fixed;
	// the expected scores come from one Predict call per composite.
	m, err := nn.New(nn.Config{Arch: nn.ArchCNN, Classes: 2, H: 8, W: 8, Seed: 3})
	must(t, err)
	scorer := t.TempDir()
	must(t, m.Save(filepath.Join(scorer, "model")))
	want := make([][]float64, 3)
	for a, d := range f.masks {
		ms, err := format.LoadMasks(d)
		must(t, err)
		for i := 0; i < f.p.N; i++ {
			x := make([]float32, 64)
			for j, v := range Composite(f.p.Image(i), ms.Mask(i)) {
				x[j] = float32(v) / 255
			}
			probs, err := m.Predict(x)
			must(t, err)
			want[a] = append(want[a], float64(probs[f.p.Labels[i]]))
		}
	}
	for _, tc := range []struct {
		name string
		set  func(*Params)
		thr  float64
		minA float64
		maxA float64
	}{
		{"defaults", func(*Params) {}, DefaultClassifierThreshold, 0.05, 0.95},
		{"no score filter", func(p *Params) { z := 0.0; p.Threshold = &z }, 0, 0.05, 0.95},
		{"no area filter", func(p *Params) { z := 0.0; p.Threshold = &z; p.MinArea, p.MaxArea = 0, 1 }, 0, 0, 1},
		{"tight area", func(p *Params) { z := 0.0; p.Threshold = &z; p.MinArea, p.MaxArea = 0.2, 0.4 }, 0, 0.2, 0.4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := runSelect(t, f, nodes.Build{}, scorer, tc.set)
			if err != nil {
				t.Fatal(err)
			}
			check(t, f, o, want, tc.thr, tc.minA, tc.maxA)
		})
	}
	// The median best score as threshold drops about half for score.
	var best []float64
	for i := 0; i < f.p.N; i++ {
		best = append(best, max(want[0][i], want[1][i], want[2][i]))
	}
	slices.Sort(best)
	med := best[len(best)/2]
	o, err := runSelect(t, f, nodes.Build{}, scorer, func(p *Params) { p.Threshold = &med; p.MinArea, p.MaxArea = 0, 1 })
	must(t, err)
	check(t, f, o, want, med, 0, 1)
	if o.metrics.DroppedScore != len(best)/2 {
		t.Errorf("median threshold dropped %d for score, want %d", o.metrics.DroppedScore, len(best)/2)
	}
}

func TestSelectErrors(t *testing.T) {
	f := newFixture(t, 2)
	for _, tc := range []struct {
		set    func(*Params)
		scorer string
		want   string
	}{
		{func(*Params) {}, "", "needs the scorer input"},
		{func(p *Params) { p.Scorer = "magic" }, "", `scorer "magic"`},
		{func(p *Params) { p.Scorer = ScorerCLIP }, "", "image_model is required"},
		{func(p *Params) { p.MinArea, p.MaxArea = 0.5, 0.4 }, "", "min_area"},
		{func(p *Params) {
			p.Scorer = ScorerCLIP
			p.ImageModel, p.TextModel, p.BPE = "a", "b", "c"
			p.Prompt = "a cat"
		}, "", "lacks {category}"},
	} {
		_, err := runSelect(t, f, nodes.Build{}, tc.scorer, tc.set)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v, want one saying %q", err, tc.want)
		}
	}
	// A classifier for other images is refused with both shapes named.
	m, err := nn.New(nn.Config{Arch: nn.ArchMLP, Classes: 3, H: 4, W: 4, Seed: 1})
	must(t, err)
	dir := t.TempDir()
	must(t, m.Save(filepath.Join(dir, "model")))
	if _, err := runSelect(t, f, nodes.Build{}, dir, func(*Params) {}); err == nil || !strings.Contains(err.Error(), "4x4 images and 3 classes cannot score 8x8 pool images of 2 classes") {
		t.Errorf("mismatched classifier: %v", err)
	}
}

// clipModels writes a toy image encoder (x [1,3,8,8] → flatten → ·W
// [192,4]) and text encoder (ids [1,77] → rows of E [520,4] → mean over
// the 77 positions) and returns W and E for the independent computation.
func clipModels(t *testing.T, dir string) (w, e []float32) {
	t.Helper()
	r := rand.New(rand.NewPCG(21, 22))
	w = make([]float32, 192*4)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	e = make([]float32, 520*4)
	for i := range e {
		e[i] = float32(r.NormFloat64())
	}
	ot.WriteModel(t, dir, "image.onnx", ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Reshape", "flat", []string{"pixel_values", "shape"}),
			ot.Op("MatMul", "image_embeds", []string{"flat", "W"}),
		},
		Inits:   []ot.Tensor{{Name: "shape", Dims: []int64{2}, Int64: []int64{1, 192}}, {Name: "W", Dims: []int64{192, 4}, Float: w}},
		Inputs:  []ot.Value{{Name: "pixel_values", Shape: []int64{1, 3, 8, 8}}},
		Outputs: []ot.Value{{Name: "image_embeds", Shape: []int64{1, 4}}},
	})
	ot.WriteModel(t, dir, "text.onnx", ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Gather", "tok", []string{"E", "input_ids"}, ot.Int("axis", 0)),
			ot.Op("ReduceMean", "text_embeds", []string{"tok"}, ot.Ints("axes", 1), ot.Int("keepdims", 0)),
		},
		Inits:   []ot.Tensor{{Name: "E", Dims: []int64{520, 4}, Float: e}},
		Inputs:  []ot.Value{{Name: "input_ids", Elem: ot.ElemInt64, Shape: []int64{1, 77}}},
		Outputs: []ot.Value{{Name: "text_embeds", Shape: []int64{1, 4}}},
	})
	return w, e
}

func TestSelectCLIP(t *testing.T) {
	ot.Runtime(t)
	f := newFixture(t, 12)
	dir := t.TempDir()
	w, e := clipModels(t, dir)
	writeMerges(t, dir)
	tok, err := LoadTokenizer(filepath.Join(dir, "merges.txt"), "")
	must(t, err)
	def := DefaultParams()
	// Independent computation in float64: text = mean of E rows over the
	// 77 ids; image = normalised composite · W; cosine.
	text := make([][]float64, 2)
	for c, name := range []string{"digit", "shirt"} {
		ids, _, err := tok.Encode("a photo of a single " + name)
		must(t, err)
		text[c] = make([]float64, 4)
		for _, id := range ids {
			for d := 0; d < 4; d++ {
				text[c][d] += float64(e[int(id)*4+d]) / 77
			}
		}
	}
	want := make([][]float64, 3)
	for a, d := range f.masks {
		ms, err := format.LoadMasks(d)
		must(t, err)
		for i := 0; i < f.p.N; i++ {
			comp := Composite(f.p.Image(i), ms.Mask(i))
			emb := make([]float64, 4)
			for ch := 0; ch < 3; ch++ {
				for j, v := range comp {
					x := (float64(float32(v)/255) - def.Mean[ch]) / def.Std[ch]
					for d := 0; d < 4; d++ {
						emb[d] += x * float64(w[(ch*64+j)*4+d])
					}
				}
			}
			tx := text[f.p.Labels[i]]
			var ab, aa, bb float64
			for d := 0; d < 4; d++ {
				ab += emb[d] * tx[d]
				aa += emb[d] * emb[d]
				bb += tx[d] * tx[d]
			}
			want[a] = append(want[a], ab/math.Sqrt(aa*bb))
		}
	}
	set := func(thr *float64) func(*Params) {
		return func(p *Params) {
			p.Scorer, p.ImageModel, p.TextModel, p.BPE, p.Threshold = ScorerCLIP, "image.onnx", "text.onnx", "merges.txt", thr
		}
	}
	o, err := runSelect(t, f, nodes.Build{Dir: dir}, "", set(nil))
	must(t, err)
	check(t, f, o, want, DefaultCLIPThreshold, 0.05, 0.95)
	lo := -1.0
	o, err = runSelect(t, f, nodes.Build{Dir: dir}, "", set(&lo))
	must(t, err)
	check(t, f, o, want, -1, 0.05, 0.95)
	if o.metrics.DroppedScore != 0 {
		t.Errorf("threshold -1 dropped %d for score", o.metrics.DroppedScore)
	}

	// The key sees the files' content.
	n, err := Kind().New(nodes.Build{Dir: dir}, func() *Params { p := DefaultParams(); set(nil)(&p); return &p }())
	must(t, err)
	fp, err := n.(nodes.Fingerprinter).Fingerprint(context.Background(), hasher{})
	must(t, err)
	if len(fp) != 3 || fp["image_model"] == "" || fp["text_model"] == fp["image_model"] || fp["bpe"] == "" {
		t.Errorf("Fingerprint = %v", fp)
	}
	// A scorer input with clip-onnx is a mistake worth naming.
	if _, err := runSelect(t, f, nodes.Build{Dir: dir}, t.TempDir(), set(nil)); err == nil || !strings.Contains(err.Error(), "only used by scorer") {
		t.Errorf("clip-onnx with a scorer input: %v", err)
	}
}

type hasher struct{}

func (hasher) FileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	return fmt.Sprintf("%x", sha256.Sum256(b)), err
}
