package evaluate

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
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
	annotate(t, d)
	return d
}

// annotate sets d.COCO from d's arrays the way the coco and ltseg kinds
// write annotations.json: image i has id i+1, category c id c+1 (with its
// LVIS frequency letter), and an image's annotations are its instances in
// instance id order, each an uncompressed RLE.
func annotate(t *testing.T, d *format.Segmentation) {
	t.Helper()
	hw := d.H * d.W
	c := &artifact.COCO{Images: []artifact.COCOImage{}, Annotations: []artifact.COCOAnnotation{}}
	for k, name := range d.Meta.Classes {
		var freq string
		if g := d.Meta.Groups[name]; g != "" {
			freq = g[:1]
		}
		c.Categories = append(c.Categories, artifact.COCOCategory{ID: int64(k + 1), Name: name, Frequency: freq})
	}
	for i := 0; i < d.N; i++ {
		c.Images = append(c.Images, artifact.COCOImage{ID: int64(i + 1), FileName: "images.npy:" + strconv.Itoa(i), Width: d.W, Height: d.H})
		ins, sem := d.Instances[i*hw:(i+1)*hw], d.Semantic[i*hw:(i+1)*hw]
		for id := int32(1); id <= slices.Max(ins); id++ {
			mask := make([]uint8, hw)
			cat := -1
			for p, v := range ins {
				if v == id {
					mask[p], cat = 1, int(sem[p])
				}
			}
			if cat < 0 {
				continue
			}
			rle := artifact.EncodeRLE(mask, d.H, d.W)
			box, area := artifact.MaskBBox(mask, d.H, d.W)
			c.Annotations = append(c.Annotations, artifact.COCOAnnotation{ID: int64(len(c.Annotations) + 1), ImageID: int64(i + 1),
				CategoryID: int64(cat), Segmentation: artifact.Segmentation{RLE: &rle}, Area: float64(area), BBox: box})
		}
	}
	d.COCO = c
}

// scoreFiles scores an evaluate output's detections.json against a test
// set's annotations.json, reading nothing else.
func scoreFiles(t *testing.T, outDir, testDir string, p metrics.Protocol) metrics.Result {
	t.Helper()
	gt, err := artifact.LoadCOCO(filepath.Join(testDir, format.AnnotationsFile))
	if err != nil {
		t.Fatal(err)
	}
	res, err := artifact.LoadCOCOResults(filepath.Join(outDir, format.DetectionsFile))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ScoreResults(gt, res, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
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
	out := runNode(t, Params{BatchSize: 1, Instances: InstancesByClass, Protocol: "coco"}, filepath.Join(dir, "train"), filepath.Join(dir, "test"))

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
	for _, p := range []Params{{BatchSize: 64, Instances: InstancesByClass, Protocol: "coco"}, {BatchSize: 2, Instances: InstancesByForeground, Protocol: "coco"}} {
		again := runNode(t, p, filepath.Join(dir, "train"), filepath.Join(dir, "test"))
		second, err := os.ReadFile(filepath.Join(again, "metrics.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Errorf("params %+v: metrics.json differs:\n%s\n%s", p, first, second)
		}
	}
	for _, key := range []string{`"AP"`, `"APr"`, `"APc"`, `"APf"`, `"protocol": "coco"`} {
		if !bytes.Contains(first, []byte(key)) {
			t.Errorf("metrics.json lacks %s:\n%s", key, first)
		}
	}

	// detections.json: image 1 (index 0) has the category 1 square at
	// (1,1); image 2 the false positive (255, scored higher, so first) and
	// then the square at (2,8). Masks come back exact.
	results, err := artifact.LoadCOCOResults(filepath.Join(out, format.DetectionsFile))
	if err != nil {
		t.Fatal(err)
	}
	type square struct {
		image  int64
		x0, y0 int
		side   int
	}
	wants := []square{{1, 1, 1, 4}, {2, 10, 2, 4}, {2, 2, 8, 3}}
	if len(results) != len(wants) {
		t.Fatalf("detections.json has %d results, want %d", len(results), len(wants))
	}
	for i, w := range wants {
		r := results[i]
		mask, err := artifact.RLE(r.Segmentation).Decode()
		if err != nil {
			t.Fatal(err)
		}
		sq := make([]uint8, 16*16)
		for y := w.y0; y < w.y0+w.side; y++ {
			for x := w.x0; x < w.x0+w.side; x++ {
				sq[y*16+x] = 1
			}
		}
		if r.ImageID != w.image || r.CategoryID != 1 || r.Segmentation.Size != [2]int{16, 16} || !slices.Equal(mask, sq) || r.Score <= 0.98 {
			t.Errorf("result %d: image %d category %d size %v score %v, mask equal %v; want image %d category 1, a %d-square at (%d,%d)",
				i, r.ImageID, r.CategoryID, r.Segmentation.Size, r.Score, slices.Equal(mask, sq), w.image, w.side, w.x0, w.y0)
		}
	}
	if results[1].Score <= results[2].Score {
		t.Errorf("image 2's results are not in descending score order: %v then %v", results[1].Score, results[2].Score)
	}
}

// TestDetectionsFileScoresAsMetrics scores detections.json against the test
// set's annotations.json from the files alone (as the official tools
// would) and requires the numbers of metrics.json, under both protocols.
func TestDetectionsFileScoresAsMetrics(t *testing.T) {
	dir := t.TempDir()
	testDir := filepath.Join(dir, "test")
	if err := scene(t).Save(testDir); err != nil {
		t.Fatal(err)
	}
	if err := thresholdFCN(t, 2, 16).Save(filepath.Join(dir, "model")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []metrics.Protocol{metrics.COCO, metrics.LVIS} {
		out := runNode(t, Params{BatchSize: 2, Instances: InstancesByClass, Protocol: string(p)}, filepath.Join(dir, "model"), testDir)
		var m SegmentationMetrics
		readJSON(t, filepath.Join(out, "metrics.json"), &m)
		r := scoreFiles(t, out, testDir, p)
		if m.Protocol != string(p) || r.AP != m.AP || r.AP50 != m.AP50 || r.AP75 != m.AP75 || r.APr != m.APr || r.APc != m.APc || r.APf != m.APf {
			t.Errorf("%s: from the files AP %v AP50 %v AP75 %v APr %v APc %v APf %v; metrics.json %+v",
				p, r.AP, r.AP50, r.AP75, r.APr, r.APc, r.APf, m)
		}
	}
}

// TestGroundTruthTieOrder: two category 1 instances in an 8×8 image, id 2
// on rows 0–1 and id 1 on rows 2–3 (columns 0–3 each, 8 pixels), so that
// instance id order (annotations.json's) differs from first-pixel order.
// Detection a (0.9) covers both (IoU 8/16 = 0.5 with each), b (0.8) is
// instance 2 exactly. The official rule gives a the last of the equal
// ground truths in annotation order, instance 2, so b finds it taken: TP FP,
// AP50 51/101 (see metrics' TestMatchTieTakesLastGroundTruth). Scoring the
// arrays (GroundTruth) and scoring the files must agree.
func TestGroundTruthTieOrder(t *testing.T) {
	const s = 8
	d := &format.Segmentation{N: 1, H: s, W: s, Images: make([]uint8, s*s), Semantic: make([]uint8, s*s), Instances: make([]int32, s*s),
		Meta: format.SegMeta{Classes: []string{"one"}, Groups: map[string]string{"one": format.Common}}}
	rows := func(y0, y1 int) []int32 {
		var p []int32
		for y := y0; y < y1; y++ {
			for x := 0; x < 4; x++ {
				p = append(p, int32(y*s+x))
			}
		}
		return p
	}
	for _, p := range rows(0, 2) {
		d.Semantic[p], d.Instances[p] = 1, 2
	}
	for _, p := range rows(2, 4) {
		d.Semantic[p], d.Instances[p] = 1, 1
	}
	annotate(t, d)
	gt, err := GroundTruth(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(gt) != 2 || !slices.Equal(gt[0].Pixels, rows(2, 4)) || !slices.Equal(gt[1].Pixels, rows(0, 2)) {
		t.Fatalf("ground truth %+v, want instance 1 (rows 2–3) then instance 2 (rows 0–1)", gt)
	}
	dets := []metrics.Instance{{Category: 1, Pixels: rows(0, 4), Score: 0.9}, {Category: 1, Pixels: rows(0, 2), Score: 0.8}}
	fromArrays, err := metrics.MaskAP(gt, dets, []int{1}, map[int]string{1: metrics.Common})
	if err != nil {
		t.Fatal(err)
	}
	fromFiles, err := ScoreResults(d.COCO, Results(dets, s, s), metrics.COCO)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(fromArrays.AP50-51.0/101) > 1e-12 || fromFiles.AP50 != fromArrays.AP50 || fromFiles.AP != fromArrays.AP || fromFiles.APc != fromArrays.APc {
		t.Errorf("AP50 from the arrays %v, from the files %v (AP %v, %v); want both 51/101", fromArrays.AP50, fromFiles.AP50, fromArrays.AP, fromFiles.AP)
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
	if _, _, _, err := EvaluateSegmentation(ctx, thresholdFCN(t, 3, 16), d, DefaultParams(), nil); err == nil || !strings.Contains(err.Error(), "categories") {
		t.Errorf("3-category model on a 2-category set: error %v", err)
	}
	if _, _, _, err := EvaluateSegmentation(ctx, pixelMLP(t), d, DefaultParams(), nil); err == nil || !strings.Contains(err.Error(), "classification network") {
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
		{Params{BatchSize: 4, MinPixels: -1, Instances: InstancesByClass}, false}, {Params{BatchSize: 1, MinPixels: 3, Instances: InstancesByForeground, Protocol: "lvis"}, true},
		{Params{BatchSize: 1, Instances: "blobs", Protocol: "coco"}, false}, {Params{BatchSize: 1, Instances: InstancesByClass, Protocol: "voc"}, false},
		{Params{BatchSize: 1, Instances: InstancesByClass}, false}} {
		p := tt.p
		_, err := k.Construct(nodes.Build{}, &p)
		if (err == nil) != tt.ok {
			t.Errorf("Construct(%+v) error %v, want ok %v", tt.p, err, tt.ok)
		}
	}
}

// TestGroupNames: the group names format writes map to metrics' LVIS
// letters (metrics.GroupLetter spells format's names itself, as lib/
// cannot import format).
func TestGroupNames(t *testing.T) {
	for name, want := range map[string]string{format.Rare: metrics.Rare, format.Common: metrics.Common, format.Frequent: metrics.Frequent} {
		if got, ok := metrics.GroupLetter(name); !ok || got != want {
			t.Errorf("GroupLetter(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
