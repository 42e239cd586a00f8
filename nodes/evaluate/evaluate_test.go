package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// param returns the named parameter of m (a writable view).
func param(t *testing.T, m *nn.Model, name string) []float32 {
	t.Helper()
	for _, p := range m.Params() {
		if p.Name == name {
			return p.F32
		}
	}
	t.Fatalf("model has no parameter %q", name)
	return nil
}

// thresholdFCN is an fcn whose weights are set by hand: conv1 and conv2 pass
// the input through (centre tap 1), the half-resolution path is zero, and the
// head gives category 1 the logit 10·(x − 0.35) and every other category
// −100, background 0. So a pixel brighter than 0.35·255 is category 1, the
// rest background, and brighter pixels are more confident (unsaturated in
// float32: 255 scores 0.9985, 200 scores 0.987).
func thresholdFCN(t *testing.T, classes, size int) *nn.Model {
	t.Helper()
	m, err := nn.New(nn.Config{Arch: nn.ArchFCN, Classes: classes, H: size, W: size, Channels: []int{1, 1}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		clear(p.F32)
	}
	param(t, m, "conv1.weight")[4] = 1
	param(t, m, "conv2.weight")[4] = 1
	hw, hb := param(t, m, "head.weight"), param(t, m, "head.bias") // [K+1, 2, 1, 1]
	for k := 1; k <= classes; k++ {
		hb[k] = -100
	}
	hw[1*2+0], hb[1] = 10, -3.5
	return m
}

// scene is a hand-made segmentation set of 16×16 images on a background of
// 10: category 1 squares of 200 (bright: found), category 2 squares of 60
// (dim: missed) and, in image 1, an unannotated square of 255 (a confident
// false positive).
func scene(t *testing.T) *format.Segmentation {
	t.Helper()
	const n, s = 2, 16
	d := &format.Segmentation{N: n, H: s, W: s, Images: make([]uint8, n*s*s), Semantic: make([]uint8, n*s*s), Instances: make([]int32, n*s*s)}
	for i := range d.Images {
		d.Images[i] = 10
	}
	square := func(img, x0, y0, side int, value uint8, cat uint8, id int32) {
		for y := y0; y < y0+side; y++ {
			for x := x0; x < x0+side; x++ {
				p := img*s*s + y*s + x
				d.Images[p], d.Semantic[p], d.Instances[p] = value, cat, id
			}
		}
	}
	square(0, 1, 1, 4, 200, 1, 1)
	square(0, 9, 9, 5, 60, 2, 2)
	square(1, 2, 8, 3, 200, 1, 1)
	square(1, 10, 2, 4, 255, 0, 0)
	d.Meta = format.SegMeta{Classes: []string{"one", "two"}, Groups: map[string]string{"one": format.Rare, "two": format.Frequent}}
	d.COCO = &artifact.COCO{Images: []artifact.COCOImage{}, Annotations: []artifact.COCOAnnotation{}}
	return d
}

func runNode(t *testing.T, p Params, modelDir, testDir string) string {
	t.Helper()
	out := t.TempDir()
	n := &Node{Params: p}
	var done []int
	env := &nodes.Env{
		Inputs:   map[string][]string{"model": {modelDir}, "test": {testDir}},
		OutDir:   out,
		TempDir:  t.TempDir(),
		Progress: func(d, total int) { done = append(done, d) },
	}
	if err := n.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if len(done) == 0 {
		t.Error("no progress reported")
	}
	return out
}

func readJSON(t *testing.T, path string, v any) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSegmentationHandWorked(t *testing.T) {
	dir := t.TempDir()
	d := scene(t)
	if err := d.Save(filepath.Join(dir, "test")); err != nil {
		t.Fatal(err)
	}
	// As the train kind writes it: the model in the node output's model/.
	if err := thresholdFCN(t, 2, 16).Save(filepath.Join(dir, "train", "model")); err != nil {
		t.Fatal(err)
	}
	out := runNode(t, Params{BatchSize: 1, Instances: InstancesByClass}, filepath.Join(dir, "train"), filepath.Join(dir, "test"))

	// Category 1 (rare): detections ranked FP (255), TP, TP (200, equal
	// scores; exact masks) against 2 ground truths: recall 0, 1/2, 1 and
	// precision 0, 1/2, 2/3; the envelope is 2/3 everywhere, so AP = 2/3 at
	// every IoU threshold. Category 2 (frequent): ground truth, no
	// detections: AP 0. No common category: APc = −1.
	var m SegmentationMetrics
	first := readJSON(t, filepath.Join(out, "metrics.json"), &m)
	want := SegmentationMetrics{Task: "segmentation", AP: 1.0 / 3, AP50: 1.0 / 3, AP75: 1.0 / 3, APr: 2.0 / 3, APc: -1, APf: 0,
		Images: 2, Instances: 3, Detections: 3}
	// Wrong pixels: the 25 of category 2 (read as background) and the 16 of
	// the false positive (read as category 1), of 2·256.
	want.PixelAccuracy = 1 - 41.0/512
	got := m
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"AP", got.AP, want.AP}, {"AP50", got.AP50, want.AP50}, {"AP75", got.AP75, want.AP75},
		{"APr", got.APr, want.APr}, {"APc", got.APc, want.APc}, {"APf", got.APf, want.APf},
		{"pixel_accuracy", got.PixelAccuracy, want.PixelAccuracy},
	} {
		if math.Abs(f.got-f.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Images != want.Images || got.Instances != want.Instances || got.Detections != want.Detections || got.Task != want.Task {
		t.Errorf("counts: %+v, want %+v", got, want)
	}
	var per []CategoryAP
	readJSON(t, filepath.Join(out, "per_category.json"), &per)
	if len(per) != 2 || per[0].ID != 1 || per[0].Name != "one" || per[0].Group != format.Rare ||
		math.Abs(per[0].AP-2.0/3) > 1e-12 || per[0].Instances != 2 || per[0].Detections != 3 ||
		per[1].AP != 0 || per[1].Instances != 1 || per[1].Detections != 0 {
		t.Errorf("per category %+v", per)
	}
	// Same inputs, another batch size, and instances from foreground
	// components (every blob here is one category, so nothing changes):
	// byte-identical metrics.
	for _, p := range []Params{{BatchSize: 64, Instances: InstancesByClass}, {BatchSize: 2, Instances: InstancesByForeground}} {
		again := runNode(t, p, filepath.Join(dir, "train"), filepath.Join(dir, "test"))
		second, err := os.ReadFile(filepath.Join(again, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("params %+v: metrics.json differs:\n%s\n%s", p, first, second)
		}
	}
	for _, key := range []string{`"AP"`, `"APr"`, `"APc"`, `"APf"`} {
		if !bytes.Contains(first, []byte(key)) {
			t.Errorf("metrics.json lacks %s:\n%s", key, first)
		}
	}
}

func TestDetect(t *testing.T) {
	// 3×3 image, 3 channels (background, A, B). Class map:
	//   A A 0
	//   0 0 B
	//   B 0 B      → A: {0,1}; B: {5,8} (4-apart, 8-joined) and {6}.
	const h, w = 3, 3
	classes := []int{1, 1, 0, 0, 0, 2, 2, 0, 2}
	probs := make([]float32, 3*h*w)
	for p, c := range classes {
		for k := 0; k < 3; k++ {
			probs[k*h*w+p] = 0.1
		}
		probs[c*h*w+p] = 0.5 + 0.05*float32(p)
	}
	dets, got, err := Detect(7, probs, h, w, 0, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, classes) {
		t.Errorf("class map %v, want %v", got, classes)
	}
	mean := func(ps ...int) float64 {
		var s float64
		for _, p := range ps {
			s += float64(0.5 + 0.05*float32(p))
		}
		return s / float64(len(ps))
	}
	want := []metrics.Instance{
		{Image: 7, Category: 1, Pixels: []int32{0, 1}, Score: mean(0, 1)},
		{Image: 7, Category: 2, Pixels: []int32{5, 8}, Score: mean(5, 8)},
		{Image: 7, Category: 2, Pixels: []int32{6}, Score: mean(6)},
	}
	if len(dets) != len(want) {
		t.Fatalf("detections %+v, want %+v", dets, want)
	}
	for i := range want {
		if dets[i].Image != want[i].Image || dets[i].Category != want[i].Category ||
			!slices.Equal(dets[i].Pixels, want[i].Pixels) || math.Abs(dets[i].Score-want[i].Score) > 1e-9 {
			t.Errorf("detection %d = %+v, want %+v", i, dets[i], want[i])
		}
	}
	dets, _, err = Detect(7, probs, h, w, 2, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 2 {
		t.Errorf("min_pixels 2 kept %d detections, want 2 (the single pixel dropped)", len(dets))
	}
	if _, _, err := Detect(0, probs[:h*w], h, w, 0, InstancesByClass); err == nil {
		t.Error("one channel: no error")
	}
	if _, _, err := Detect(0, probs, h, w, 0, "pixels"); err == nil {
		t.Error("unknown mode: no error")
	}
}

func TestDetectForeground(t *testing.T) {
	// 2×3 image, 3 channels (background, A, B). Class map:
	//   A B 0
	//   0 0 B     → one foreground component {0, 1, 5} (8-connected) and
	// nothing else. Mean probability over it: A (0.6+0.3+0.2)/3 = 1.1/3,
	// B (0.3+0.5+0.7)/3 = 1.5/3 → category B (2), score 0.5. By class it
	// would be two fragments: A {0} and B {1, 5}.
	const h, w = 2, 3
	probs := []float32{
		0.1, 0.2, 0.9, 0.8, 0.9, 0.1, // background
		0.6, 0.3, 0.05, 0.1, 0.05, 0.2, // A
		0.3, 0.5, 0.05, 0.1, 0.05, 0.7, // B
	}
	dets, classes, err := Detect(3, probs, h, w, 0, InstancesByForeground)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 0, 0, 0, 2}; !slices.Equal(classes, want) {
		t.Errorf("class map %v, want %v", classes, want)
	}
	if len(dets) != 1 || dets[0].Image != 3 || dets[0].Category != 2 || !slices.Equal(dets[0].Pixels, []int32{0, 1, 5}) ||
		math.Abs(dets[0].Score-(float64(float32(0.3))+float64(float32(0.5))+float64(float32(0.7)))/3) > 1e-12 {
		t.Errorf("foreground detections %+v, want one of category 2 over pixels 0, 1, 5 scored 0.5", dets)
	}
	byClass, _, err := Detect(3, probs, h, w, 0, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if len(byClass) != 2 {
		t.Errorf("by class: %d detections, want 2 fragments", len(byClass))
	}
}

func TestGroundTruth(t *testing.T) {
	tests := []struct {
		name      string
		sem       []uint8
		ins       []int32
		want      []metrics.Instance
		wantError string
	}{
		{"two instances", []uint8{1, 0, 2, 2}, []int32{1, 0, 2, 2},
			[]metrics.Instance{{Image: 0, Category: 1, Pixels: []int32{0}}, {Image: 0, Category: 2, Pixels: []int32{2, 3}}}, ""},
		{"semantic without instance is ignored", []uint8{1, 1, 0, 0}, []int32{0, 0, 0, 0}, nil, ""},
		{"instance on background", []uint8{0, 0, 0, 0}, []int32{1, 0, 0, 0}, nil, "background"},
		{"mixed categories", []uint8{1, 2, 0, 0}, []int32{1, 1, 0, 0}, nil, "categories 1 and 2"},
		{"negative id", []uint8{1, 0, 0, 0}, []int32{-1, 0, 0, 0}, nil, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &format.Segmentation{N: 1, H: 2, W: 2, Semantic: tt.sem, Instances: tt.ins}
			got, err := GroundTruth(d)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i].Image != tt.want[i].Image || got[i].Category != tt.want[i].Category || !slices.Equal(got[i].Pixels, tt.want[i].Pixels) {
					t.Errorf("instance %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// pixelMLP is an mlp with one hidden unit reading pixel 0: class 1 when
// that pixel is brighter than half, else class 0; class 2 never.
func pixelMLP(t *testing.T) *nn.Model {
	t.Helper()
	m, err := nn.New(nn.Config{Arch: nn.ArchMLP, Classes: 3, H: 4, W: 4, Hidden: []int{1}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		clear(p.F32)
	}
	param(t, m, "fc1.weight")[0] = 1
	ow, ob := param(t, m, "out.weight"), param(t, m, "out.bias")
	ow[1] = 10
	ob[1], ob[2] = -5, -100
	return m
}

func TestClassification(t *testing.T) {
	// Pixel 0 and label per image: predictions 0 1 1 0 1 against labels
	// 0 1 0 1 1 → accuracy 3/5; class a (rare): images 0, 2 → 1/2; class b
	// (frequent): images 1, 3, 4 → 2/3; class c (common): no images → −1.
	pix := []uint8{0, 255, 255, 0, 255}
	labels := []int64{0, 1, 0, 1, 1}
	d := &format.Classification{N: 5, H: 4, W: 4, Images: make([]uint8, 5*16), Labels: labels}
	for i, v := range pix {
		d.Images[i*16] = v
		d.Images[i*16+5] = 128 // other pixels must not matter
	}
	dir := t.TempDir()
	modelDir := filepath.Join(dir, "model")
	if err := pixelMLP(t).Save(modelDir); err != nil {
		t.Fatal(err)
	}
	for _, grouped := range []bool{true, false} {
		d.Meta = format.ClassMeta{Classes: []string{"a", "b", "c"}}
		if grouped {
			d.Meta.Groups = map[string]string{"a": format.Rare, "b": format.Frequent, "c": format.Common}
		}
		testDir := filepath.Join(dir, "test", map[bool]string{true: "grouped", false: "plain"}[grouped])
		if err := d.Save(testDir); err != nil {
			t.Fatal(err)
		}
		out := runNode(t, Params{BatchSize: 2}, modelDir, testDir) // a model folder given directly
		var m map[string]float64
		b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		m = map[string]float64{}
		for k, v := range raw {
			if f, ok := v.(float64); ok {
				m[k] = f
			}
		}
		want := map[string]float64{"accuracy": 3.0 / 5, "images": 5}
		if grouped {
			want["acc_rare"], want["acc_common"], want["acc_frequent"] = 1.0/2, -1, 2.0/3
		}
		if len(m) != len(want) {
			t.Errorf("grouped %v: metrics %v, want %v", grouped, m, want)
		}
		for k, w := range want {
			if g, ok := m[k]; !ok || math.Abs(g-w) > 1e-12 {
				t.Errorf("grouped %v: %s = %v (present %v), want %v", grouped, k, g, ok, w)
			}
		}
	}
}

func TestModelMismatch(t *testing.T) {
	ctx := context.Background()
	d := scene(t)
	if _, _, err := EvaluateSegmentation(ctx, thresholdFCN(t, 3, 16), d, DefaultParams(), nil); err == nil || !strings.Contains(err.Error(), "categories") {
		t.Errorf("3-category model on a 2-category set: error %v", err)
	}
	if _, _, err := EvaluateSegmentation(ctx, pixelMLP(t), d, DefaultParams(), nil); err == nil || !strings.Contains(err.Error(), "classification network") {
		t.Errorf("classifier on a segmentation set: error %v", err)
	}
	c := &format.Classification{N: 1, H: 16, W: 16, Images: make([]uint8, 256), Labels: []int64{0}, Meta: format.ClassMeta{Classes: []string{"one", "two"}}}
	if _, err := EvaluateClassification(ctx, thresholdFCN(t, 2, 16), c, 8, nil); err == nil || !strings.Contains(err.Error(), "segmentation network") {
		t.Errorf("segmenter on a classification set: error %v", err)
	}
}

func TestParams(t *testing.T) {
	k := Kind()
	for _, tt := range []struct {
		p  Params
		ok bool
	}{{DefaultParams(), true}, {Params{BatchSize: 0, Instances: InstancesByClass}, false},
		{Params{BatchSize: 4, MinPixels: -1, Instances: InstancesByClass}, false}, {Params{BatchSize: 1, MinPixels: 3, Instances: InstancesByForeground}, true},
		{Params{BatchSize: 1, Instances: "blobs"}, false}} {
		p := tt.p
		_, err := k.New(nodes.Build{}, &p)
		if (err == nil) != tt.ok {
			t.Errorf("New(%+v) error %v, want ok %v", tt.p, err, tt.ok)
		}
	}
}
