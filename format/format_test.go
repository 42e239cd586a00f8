package format

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"dagrun/lib/artifact"
)

// classSet is a classification dataset of n 4×4 images of 3 classes.
func classSet(n int) *Classification {
	c := &Classification{N: n, H: 4, W: 4, Images: make([]uint8, n*16), Labels: make([]int64, n),
		Meta: ClassMeta{Classes: []string{"a", "b", "c"}, Groups: map[string]string{"a": Rare, "b": Common, "c": Frequent}}}
	for i := range c.Images {
		c.Images[i] = uint8(i * 7)
	}
	for i := range c.Labels {
		c.Labels[i] = int64(i % 3)
	}
	return c
}

func mustErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}

// TestClassificationRoundTrip: Save then LoadClassification gives the same
// dataset; the dir reads as a pool too (task classification, no source),
// with SaveWithSource carrying the source; DatasetTask names the format.
func TestClassificationRoundTrip(t *testing.T) {
	c := classSet(5)
	dir := filepath.Join(t.TempDir(), "c")
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadClassification(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("loaded %+v, saved %+v", got, c)
	}
	if task, err := DatasetTask(dir); err != nil || task != TypeClassification {
		t.Errorf("DatasetTask = %q, %v", task, err)
	}
	p, err := LoadPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p.N != 5 || !bytes.Equal(p.Images, c.Images) || !slices.Equal(p.Labels, c.Labels) || p.Meta.Task != TypeClassification || p.Meta.Source != "" {
		t.Errorf("as a pool: %+v", p)
	}
	src := filepath.Join(t.TempDir(), "s")
	if err := c.SaveWithSource(src, "noise-σ40"); err != nil {
		t.Fatal(err)
	}
	if p, err = LoadPool(src); err != nil || p.Meta.Source != "noise-σ40" {
		t.Errorf("with source: %+v, %v", p, err)
	}
	if got, err = LoadClassification(src); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("with source as a dataset: %+v, %v", got, err)
	}
	// The sourced meta.json is the two-space layout noise always wrote.
	b, _ := os.ReadFile(filepath.Join(src, MetaFile))
	if !bytes.HasPrefix(b, []byte("{\n  \"task\": \"classification\",")) || !bytes.HasSuffix(b, []byte("  \"source\": \"noise-σ40\"\n}\n")) {
		t.Errorf("meta.json with source:\n%s", b)
	}
	c.Labels[2] = 3
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	_, err = LoadClassification(dir)
	mustErr(t, err, "label 3 of image 2 is outside the 3 classes")
}

// TestPoolRoundTrip: a generator's pool reads back through LoadPool and
// LoadPools (with a classification dir beside it), and as a
// classification dataset; preview.png is written.
func TestPoolRoundTrip(t *testing.T) {
	p := &Pool{H: 4, W: 4, Meta: PoolMeta{Classes: []string{"a", "b", "c"}, Source: "gen", PerClass: 2}}
	for i := range 6 {
		p.Labels = append(p.Labels, int64(i/2))
		p.Images = append(p.Images, bytes.Repeat([]uint8{uint8(40 * i)}, 16)...)
	}
	dir := filepath.Join(t.TempDir(), "p")
	if err := p.Save(dir, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, PreviewFile)); err != nil {
		t.Error(err)
	}
	got, err := LoadPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, p) || got.Meta.Task != TypePool || got.N != 6 {
		t.Errorf("loaded %+v, saved %+v", got, p)
	}
	if c, err := LoadClassification(dir); err != nil || c.N != 6 || !slices.Equal(c.Labels, p.Labels) {
		t.Errorf("pool as a classification dir: %+v, %v", c, err)
	}
	cls := filepath.Join(t.TempDir(), "c")
	if err := classSet(4).Save(cls); err != nil {
		t.Fatal(err)
	}
	u, err := LoadPools([]string{dir, cls})
	if err != nil {
		t.Fatal(err)
	}
	if u.N() != 10 || !slices.Equal(u.Sources, []string{"gen", "pool1"}) || !slices.Equal(u.Start, []int{0, 6, 10}) ||
		u.Source[5] != 0 || u.Source[6] != 1 || u.Labels[6] != 0 || u.Labels[9] != 0 || u.Labels[5] != 2 || !bytes.Equal(u.Images[6*16:], classSet(4).Images) {
		t.Errorf("union %+v", u)
	}
	// An unlabelled dir is a pool for annotators but not for training.
	os.Remove(filepath.Join(cls, LabelsFile))
	if q, err := LoadPool(cls); err != nil || q.Labels != nil {
		t.Errorf("unlabelled pool: %+v, %v", q, err)
	}
	_, err = LoadPools([]string{dir, cls})
	mustErr(t, err, "no labels.npy")
	other := filepath.Join(t.TempDir(), "o")
	c := classSet(3)
	c.Meta.Classes = []string{"x", "y", "z"}
	if err := c.Save(other); err != nil {
		t.Fatal(err)
	}
	_, err = LoadPools([]string{dir, other})
	mustErr(t, err, "does not match the first pool")
	_, err = LoadPools(nil)
	mustErr(t, err, "no pool dirs")
}

// TestSegmentationRoundTrip: Save then LoadSegmentation gives the same set.
func TestSegmentationRoundTrip(t *testing.T) {
	s := &Segmentation{N: 1, H: 2, W: 2, Images: []uint8{1, 2, 3, 4}, Semantic: []uint8{0, 1, 1, 0}, Instances: []int32{0, 1, 1, 0},
		Meta: SegMeta{Classes: []string{"a"}, Groups: map[string]string{"a": Rare},
			SizeStats: map[string]SizeStat{"a": {Count: 1, AreaMean: 2, SideMean: 2}}},
		COCO: &artifact.COCO{Images: []artifact.COCOImage{{ID: 1, Width: 2, Height: 2}}, Categories: []artifact.COCOCategory{{ID: 1, Name: "a"}}}}
	dir := filepath.Join(t.TempDir(), "s")
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSegmentation(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got.N != 1 || !bytes.Equal(got.Semantic, s.Semantic) || !slices.Equal(got.Instances, s.Instances) ||
		!reflect.DeepEqual(got.Meta, s.Meta) || len(got.COCO.Categories) != 1 {
		t.Errorf("loaded %+v, saved %+v", got, s)
	}
	if task, err := DatasetTask(dir); err != nil || task != TypeSegmentation {
		t.Errorf("DatasetTask = %q, %v", task, err)
	}
}

// TestMasksRoundTrip: Save then LoadMasks; values other than 0/1 are
// refused.
func TestMasksRoundTrip(t *testing.T) {
	p := &Pool{N: 2, H: 2, W: 2, Images: []uint8{10, 20, 30, 40, 50, 60, 70, 80}, Meta: PoolMeta{Classes: []string{"a"}}}
	m := &Masks{N: 2, H: 2, W: 2, Masks: []uint8{1, 0, 0, 0, 0, 0, 0, 0}, Meta: MasksMeta{Annotator: "otsu", Params: map[string]any{"k": 1.0}}}
	dir := t.TempDir()
	if err := m.Save(dir, p); err != nil {
		t.Fatal(err)
	}
	got, err := LoadMasks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) || got.Meta.Task != TypeMasks || got.Meta.Foreground != 0.125 {
		t.Errorf("loaded %+v, saved %+v", got, m)
	}
	m.Masks[3] = 2
	if err := m.Save(dir, p); err != nil {
		t.Fatal(err)
	}
	_, err = LoadMasks(dir)
	mustErr(t, err, "value 2 at element 3, want 0 or 1")
}

// TestInstancesRoundTrip: Save then LoadInstances; a foreign task is
// refused.
func TestInstancesRoundTrip(t *testing.T) {
	in := &Instances{N: 2, H: 1, W: 2, Images: []uint8{1, 2, 3, 4}, Masks: []uint8{1, 0, 1, 1}, Labels: []int64{1, 0},
		Scores: []float32{0.5, 0.25}, Meta: InstancesMeta{Classes: []string{"a", "b"}, Source: "gen", Annotators: []string{"otsu"},
			Scorer: "classifier", Threshold: 0.5, Kept: 2, Dropped: map[string]int{"score": 1}, Chosen: map[string]int{"otsu": 2}}}
	dir := t.TempDir()
	if err := in.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadInstances(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, in) || got.Meta.Task != TypeInstances {
		t.Errorf("loaded %+v, saved %+v", got, in)
	}
	if err := writeJSON(filepath.Join(dir, MetaFile), ClassMeta{Task: TypeClassification, Classes: []string{"a", "b"}}, indent1); err != nil {
		t.Fatal(err)
	}
	_, err = LoadInstances(dir)
	mustErr(t, err, `meta.json task "classification", want "instances"`)
}

// TestScoresRoundTrip: SaveScores then LoadScores; accepted indices must
// ascend below the pool size.
func TestScoresRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if err := SaveScores(dir, []float64{0.5, -1, 2}, []int64{0, 2}); err != nil {
		t.Fatal(err)
	}
	s, a, err := LoadScores(dir, 3)
	if err != nil || !slices.Equal(s, []float64{0.5, -1, 2}) || !slices.Equal(a, []int{0, 2}) {
		t.Errorf("LoadScores = %v, %v, %v", s, a, err)
	}
	_, _, err = LoadScores(dir, 4)
	mustErr(t, err, "want float64 [4]")
	if err := SaveScores(dir, []float64{0.5, -1, 2}, []int64{2, 0}); err != nil {
		t.Fatal(err)
	}
	_, _, err = LoadScores(dir, 3)
	mustErr(t, err, "is not an ascending index below 3")
}

// TestDecisionsRoundTrip: rows written by DecisionsWriter parse back
// (NaN as an empty cell, counts sorted by name); malformed files are
// errors.
func TestDecisionsRoundTrip(t *testing.T) {
	rows := []Decision{
		{Iteration: 1, Score: 0.25, Threshold: math.NaN(), Accepted: true, Sources: map[string]int{"vae": 2, "noise": 1}, Categories: map[string]int{"cat": 3}, Items: []int{4, 0, 4}},
		{Iteration: 7, Score: math.NaN(), Threshold: -1e-9, Accepted: false, Sources: map[string]int{}, Categories: map[string]int{}},
	}
	var b bytes.Buffer
	w := NewDecisionsWriter(&b)
	for _, d := range rows {
		if err := w.Write(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "iteration,score,threshold,accepted,sources,categories,items\n1,0.25,,true,noise=1;vae=2,cat=3,4;0;4\n7,,-1e-09,false,,,\n"
	if b.String() != want {
		t.Errorf("decisions.csv:\n%s\nwant:\n%s", b.String(), want)
	}
	got, err := ParseDecisions(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Iteration != 1 || got[0].Score != 0.25 || !math.IsNaN(got[0].Threshold) || !got[0].Accepted ||
		!reflect.DeepEqual(got[0].Sources, rows[0].Sources) || !reflect.DeepEqual(got[0].Categories, rows[0].Categories) ||
		!slices.Equal(got[0].Items, []int{4, 0, 4}) ||
		got[1].Iteration != 7 || !math.IsNaN(got[1].Score) || got[1].Threshold != -1e-9 || got[1].Accepted || len(got[1].Sources) != 0 || len(got[1].Items) != 0 {
		t.Errorf("parsed %+v", got)
	}
	if got, err := ParseDecisions(nil); err != nil || len(got) != 0 {
		t.Errorf("empty file: %v, %v", got, err)
	}
	for bad, msg := range map[string]string{
		"iteration,score,accepted\n1,0,true\n":                                          `lacks column "threshold"`,
		"iteration,score,threshold,accepted,sources,categories\n1,,,true,,\n":           `lacks column "items"`,
		"iteration,score,threshold,accepted,sources,categories,items\nx,,,true,,,\n":    `row 2: iteration "x"`,
		"iteration,score,threshold,accepted,sources,categories,items\n1,,,yes,,,\n":     `row 2: accepted "yes"`,
		"iteration,score,threshold,accepted,sources,categories,items\n1,,,true,a=b,,\n": `row 2: sources: count "a=b"`,
		"iteration,score,threshold,accepted,sources,categories,items\n1,,t,true,,,\n":   `row 2: threshold: "t" is not a number`,
		"iteration,score,threshold,accepted,sources,categories,items\n1,,,true,,,3;x\n": `row 2: items: item "x"`,
		"iteration,score,threshold,accepted,sources,categories,items\n1,,,true,,,-1\n":  `row 2: items: item "-1"`,
	} {
		_, err := ParseDecisions([]byte(bad))
		mustErr(t, err, msg)
	}
}

// TestGalleryRoundTrip: SaveGallery centres items of different sizes in
// equal tiles; ParseGallery reads every field back; a row without a tile
// is an error.
func TestGalleryRoundTrip(t *testing.T) {
	items := []GalleryItem{
		{Iteration: 3, Accepted: true, Score: 0.5, Threshold: 0.25, Source: "g", Category: "cat", Item: 11, PoolItem: 13, W: 2, H: 2,
			Grey: []uint8{1, 2, 3, 4}, Mask: []uint8{1, 1, 1, 0}},
		{Iteration: 0, Accepted: false, Score: -0.5, Threshold: math.NaN(), Source: "h", Category: "dog", Item: 4, PoolItem: 4, W: 4, H: 1,
			Grey: []uint8{5, 6, 7, 8}, Mask: []uint8{1, 1, 1, 1}},
	}
	dir := t.TempDir()
	if err := SaveGallery(dir, items); err != nil {
		t.Fatal(err)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, GalleryDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	csvb, img, msk := read(GalleryCSV), read(GalleryImages), read(GalleryMasks)
	got, err := ParseGallery(csvb, img, msk)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].W != 4 || got[0].H != 2 {
		t.Fatalf("parsed %+v", got)
	}
	a, b := got[0], got[1]
	if a.Iteration != 3 || !a.Accepted || a.Score != 0.5 || a.Threshold != 0.25 || a.Source != "g" || a.Category != "cat" || a.Item != 11 || a.PoolItem != 13 ||
		b.Iteration != 0 || b.Accepted || b.Score != -0.5 || !math.IsNaN(b.Threshold) || b.Item != 4 || b.PoolItem != 4 {
		t.Errorf("parsed %+v", got)
	}
	// Item 0 (2×2) is centred at x 1..2 of a 4×2 tile; item 1 (4×1) at row 0.
	if !bytes.Equal(a.Grey, []uint8{0, 1, 2, 0, 0, 3, 4, 0}) || !bytes.Equal(a.Mask, []uint8{0, 1, 1, 0, 0, 1, 0, 0}) ||
		!bytes.Equal(b.Grey, []uint8{5, 6, 7, 8, 0, 0, 0, 0}) {
		t.Errorf("tiles %v %v / %v", a.Grey, a.Mask, b.Grey)
	}
	_, err = ParseGallery(append(csvb, "5,true,,,g,cat,1,1\n"...), img, msk)
	mustErr(t, err, "want uint8 [3, H, W]")
	_, err = ParseGallery([]byte("iteration,accepted,score,threshold,source,category\n"), img, msk)
	mustErr(t, err, `lacks column "item"`)
	_, err = ParseGallery([]byte("iteration,accepted,score,threshold,source,category,item\n"), img, msk)
	mustErr(t, err, `lacks column "pool_item"`)
	_, err = ParseGallery(bytes.Replace(csvb, []byte(",11,13\n"), []byte(",eleven,13\n"), 1), img, msk)
	mustErr(t, err, `row 2: item "eleven"`)
	_, err = ParseGallery(bytes.Replace(csvb, []byte(",11,13\n"), []byte(",11,-2\n"), 1), img, msk)
	mustErr(t, err, `row 2: pool_item "-2"`)
}

// TestModelDirs: ResolveModel takes a train node's output or a model
// folder; ResolveVAE a vae-train node's output or its model folder.
func TestModelDirs(t *testing.T) {
	out := t.TempDir()
	model := filepath.Join(out, ModelDir)
	os.MkdirAll(model, 0o755)
	if got := ResolveModel(out); got != out {
		t.Errorf("no manifest: ResolveModel = %q, want %q", got, out)
	}
	os.WriteFile(filepath.Join(model, ModelManifest), []byte("{}"), 0o644)
	if got := ResolveModel(out); got != model {
		t.Errorf("ResolveModel(output) = %q, want %q", got, model)
	}
	if got := ResolveModel(model); got != model {
		t.Errorf("ResolveModel(model) = %q, want %q", got, model)
	}
	if got := ResolveVAE(out); got != model {
		t.Errorf("ResolveVAE(output) = %q, want %q", got, model)
	}
	if got := ResolveVAE(model); got != model {
		t.Errorf("ResolveVAE(model) = %q, want %q", got, model)
	}
}

// TestCurvesRoundTrip: loss.csv and val.csv parse back exactly; the
// writers' bytes are the shortest round-trip spelling; malformed files
// are errors naming the row, never skipped.
func TestCurvesRoundTrip(t *testing.T) {
	loss := []LossRow{{1, 2.5}, {2, 0.1}, {10, 1e-7}}
	b, err := FormatLoss(loss)
	if err != nil {
		t.Fatal(err)
	}
	if want := "iteration,loss\n1,2.5\n2,0.1\n10,1e-07\n"; string(b) != want {
		t.Errorf("loss.csv:\n%s\nwant:\n%s", b, want)
	}
	got, err := ParseLoss(b)
	if err != nil || !reflect.DeepEqual(got, loss) {
		t.Errorf("parsed %+v, %v; want %+v", got, err, loss)
	}
	nan := math.NaN()
	cls := []ValRow{{Iteration: 5, Loss: 0.5, Accuracy: 0.75, AP: nan, AP50: nan, AP75: nan, APr: nan, APc: nan, APf: nan}}
	b, err = FormatVal(cls, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := "iteration,val_loss,val_accuracy\n5,0.5,0.75\n"; string(b) != want {
		t.Errorf("classification val.csv:\n%s\nwant:\n%s", b, want)
	}
	rows, seg, err := ParseVal(b)
	if err != nil || seg || len(rows) != 1 || rows[0].Iteration != 5 || rows[0].Accuracy != 0.75 || !math.IsNaN(rows[0].AP) {
		t.Errorf("classification val.csv parsed %+v, %v, %v", rows, seg, err)
	}
	segRows := []ValRow{{Iteration: 2, Loss: 1, Accuracy: 0.5, AP: 0.25, AP50: 0.5, AP75: 0.125, APr: -1, APc: 0.1, APf: 0.3},
		{Iteration: 4, Loss: 0.9, Accuracy: 0.6, AP: 0.3, AP50: 0.6, AP75: 0.2, APr: 0, APc: 0.2, APf: 0.4}}
	b, err = FormatVal(segRows, true)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "iteration,val_loss,val_accuracy,val_AP,val_AP50,val_AP75,val_APr,val_APc,val_APf\n2,1,0.5,0.25,0.5,0.125,-1,0.1,0.3\n") {
		t.Errorf("segmentation val.csv:\n%s", b)
	}
	rows, seg, err = ParseVal(b)
	if err != nil || !seg || !reflect.DeepEqual(rows, segRows) {
		t.Errorf("segmentation val.csv parsed %+v, %v, %v; want %+v", rows, seg, err, segRows)
	}
	if _, err := FormatVal([]ValRow{{Iteration: 1, Loss: nan}}, false); err == nil {
		t.Error("a NaN loss was written")
	}
	for bad, msg := range map[string]string{
		"":                               "empty file",
		"iteration,value\n1,2\n":         `header "iteration,value"`,
		"iteration,loss\n1,x\n":          `row 2: loss: "x" is not a finite number`,
		"iteration,loss\n1,0.5\n1,0.4\n": `row 3: iteration "1"`,
		"iteration,loss\n0,0.5\n":        `row 2: iteration "0"`,
		"iteration,loss\n1,0.5,7\n":      "row 2 has 3 fields",
		"iteration,loss\n1,NaN\n":        "not a finite number",
	} {
		_, err := ParseLoss([]byte(bad))
		mustErr(t, err, msg)
	}
	for bad, msg := range map[string]string{
		"iteration,val_loss,val_accuracy\n1,0.5\n":                                                              "row 2 has 2 fields",
		"iteration,val_loss,val_accuracy,val_AP,val_AP50,val_AP75,val_APr,val_APc,val_APf\n1,1,1,1,1,1,1,1,z\n": `val_APf: "z"`,
		"iteration,loss\n1,0.5\n": `header "iteration,loss"`,
	} {
		_, _, err := ParseVal([]byte(bad))
		mustErr(t, err, msg)
	}
}

// TestMirrorSafe: a meta's mirror_safe list reads back; a list of the
// wrong length is refused; an absent list marks nothing mirror-safe.
func TestMirrorSafe(t *testing.T) {
	dir := t.TempDir()
	c := classSet(4)
	c.Meta.MirrorSafe = make([]bool, len(c.Meta.Classes))
	c.Meta.MirrorSafe[1] = true
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := LoadClassification(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Meta.MirrorSafe, c.Meta.MirrorSafe) {
		t.Errorf("mirror_safe %v, want %v", got.Meta.MirrorSafe, c.Meta.MirrorSafe)
	}
	c.Meta.MirrorSafe = []bool{true}
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	_, err = LoadClassification(dir)
	mustErr(t, err, "mirror_safe has 1 entries")
	if m := MirrorSafe(nil, 3); !reflect.DeepEqual(m, []bool{false, false, false}) {
		t.Errorf("MirrorSafe(nil, 3) = %v", m)
	}
	s := &Segmentation{N: 1, H: 2, W: 2, Images: make([]uint8, 4), Semantic: make([]uint8, 4), Instances: make([]int32, 4),
		COCO: &artifact.COCO{}, Meta: SegMeta{Classes: []string{"a", "b"}, MirrorSafe: []bool{true}}}
	sdir := t.TempDir()
	if err := s.Save(sdir); err != nil {
		t.Fatal(err)
	}
	_, err = LoadSegmentation(sdir)
	mustErr(t, err, "mirror_safe has 1 entries for 2 classes")
}

// TestTruthRoundTrip: WriteTruth's rows parse back; a missing or
// out-of-order item, an unknown truth or a missing column is an error.
func TestTruthRoundTrip(t *testing.T) {
	truth := []string{TruthClean, "box_mask", TruthClean, "wrong_label"}
	b, err := WriteTruth(truth)
	if err != nil {
		t.Fatal(err)
	}
	if want := "item,truth\n0,clean\n1,box_mask\n2,clean\n3,wrong_label\n"; string(b) != want {
		t.Errorf("truth.csv:\n%s\nwant:\n%s", b, want)
	}
	got, err := ParseTruth(b)
	if err != nil || !reflect.DeepEqual(got, truth) {
		t.Errorf("ParseTruth = %q, %v; want %q", got, err, truth)
	}
	_, err = WriteTruth([]string{"clean", "smudge"})
	mustErr(t, err, `item 1: unknown truth "smudge"`)
	for bad, msg := range map[string]string{
		"":                               "empty file",
		"item\n0\n":                      `lacks column "truth"`,
		"item,truth\n0,clean\n2,blank\n": "row 3: item 2, want 1",
		"item,truth\nx,clean\n":          `row 2: item "x"`,
		"item,truth\n0,smudge\n":         `row 2: unknown truth "smudge"`,
	} {
		_, err := ParseTruth([]byte(bad))
		mustErr(t, err, msg)
	}
}
