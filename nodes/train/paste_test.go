package train

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/nodes"
	"dagrun/nodes/data"
)

// solid is a w×h patch of constant value v with a full mask.
func solid(w, h int, v float32) Patch {
	p := Patch{W: w, H: h, Values: make([]float32, w*h), Mask: make([]bool, w*h)}
	for i := range p.Mask {
		p.Values[i], p.Mask[i] = v, true
	}
	return p
}

// TestPatchResize checks the resized box (longer side = side, aspect
// kept) and the bilinear values of a hand-worked 2×1 ramp.
func TestPatchResize(t *testing.T) {
	for _, c := range []struct {
		w, h, side, ww, wh int
	}{
		{10, 5, 4, 4, 2},  // 0.4·5 = 2
		{5, 10, 4, 2, 4},  // taller than wide
		{3, 3, 7, 7, 7},   // upscale a square
		{12, 1, 5, 5, 1},  // the short side never drops below 1
		{7, 3, 14, 14, 6}, // 3·2
	} {
		r := solid(c.w, c.h, 0.5).Resize(c.side)
		if r.W != c.ww || r.H != c.wh {
			t.Errorf("%dx%d resized to %d: %dx%d, want %dx%d", c.w, c.h, c.side, r.W, r.H, c.ww, c.wh)
		}
		for i, m := range r.Mask {
			if !m || r.Values[i] != 0.5 {
				t.Fatalf("%dx%d resized to %d: pixel %d = (%v, %v), want a full mask of 0.5", c.w, c.h, c.side, i, m, r.Values[i])
			}
		}
	}
	// A 2×1 ramp [0, 1] at side 4: output centres map to source x =
	// (x+0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25 → clamped and interpolated
	// 0, 0.25, 0.75, 1 (the source has one row, so both rows agree).
	ramp := Patch{W: 2, H: 1, Values: []float32{0, 1}, Mask: []bool{true, true}}
	r := ramp.Resize(4)
	want := []float32{0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1}
	if r.W != 4 || r.H != 2 || !slices.Equal(r.Values, want) {
		t.Errorf("ramp resized: %dx%d %v, want 4x2 %v", r.W, r.H, r.Values, want)
	}
}

// TestPatchFlip mirrors an L shape left to right; flipping twice is the
// identity.
func TestPatchFlip(t *testing.T) {
	// 3×2:  X . .     flipped:  . . X
	//       X X X               X X X
	p := Patch{W: 3, H: 2, Values: []float32{0.1, 0, 0, 0.2, 0.3, 0.4}, Mask: []bool{true, false, false, true, true, true}}
	f := p.Flip()
	if want := []bool{false, false, true, true, true, true}; !slices.Equal(f.Mask, want) {
		t.Errorf("flipped mask %v, want %v", f.Mask, want)
	}
	if want := []float32{0, 0, 0.1, 0.4, 0.3, 0.2}; !slices.Equal(f.Values, want) {
		t.Errorf("flipped values %v, want %v", f.Values, want)
	}
	if ff := f.Flip(); !slices.Equal(ff.Mask, p.Mask) || !slices.Equal(ff.Values, p.Values) {
		t.Error("flip twice is not the identity")
	}
}

// TestScenePasteOcclusion pastes over a real instance: covered pixels
// take the pasted label and a new instance id, the rest of the real
// instance keeps its own, mask pixels outside the scene are clipped, and
// Pasted marks exactly the covered pixels.
func TestScenePasteOcclusion(t *testing.T) {
	const S = 6
	s := &Scene{H: S, W: S, X: make([]float32, S*S), Sem: make([]int, S*S), Inst: make([]int32, S*S), Pasted: make([]bool, S*S)}
	// Real instance 1 of category 1 (label 2): rows 1..3, cols 1..3.
	for y := 1; y <= 3; y++ {
		for x := 1; x <= 3; x++ {
			s.X[y*S+x], s.Sem[y*S+x], s.Inst[y*S+x] = 0.2, 2, 1
		}
	}
	// Paste a 3×3 solid of category 4 at (2, 2): covers rows/cols 2..4.
	s.Paste(solid(3, 3, 0.9), 4, 2, 2)
	// Then a 3×2 of category 0 at (4, -1): only cols 4..5 of row 0 are
	// inside the scene.
	s.Paste(solid(3, 2, 0.7), 0, 4, -1)
	for y := 0; y < S; y++ {
		for x := 0; x < S; x++ {
			i := y*S + x
			inA := y >= 2 && y <= 4 && x >= 2 && x <= 4
			inB := y == 0 && x >= 4
			inReal := y >= 1 && y <= 3 && x >= 1 && x <= 3
			wantSem, wantInst, wantX := 0, int32(0), float32(0)
			switch {
			case inB:
				wantSem, wantInst, wantX = 1, 3, 0.7
			case inA:
				wantSem, wantInst, wantX = 5, 2, 0.9
			case inReal:
				wantSem, wantInst, wantX = 2, 1, 0.2
			}
			if s.Sem[i] != wantSem || s.Inst[i] != wantInst || s.X[i] != wantX || s.Pasted[i] != (inA || inB) {
				t.Errorf("pixel (%d,%d): sem %d inst %d x %v pasted %v, want %d %d %v %v",
					x, y, s.Sem[i], s.Inst[i], s.X[i], s.Pasted[i], wantSem, wantInst, wantX, inA || inB)
			}
		}
	}
}

// fixtureSizes are the size statistics of pasteFixture's classes.
var fixtureSizes = map[string]format.SizeStat{
	"a": {Count: 5, SideMean: 6, SideStd: 1},
	"b": {Count: 50, SideMean: 14, SideStd: 2.5},
}

// pasteFixture is a 32×32 segmentation set of two classes with known size
// statistics (fixtureSizes) and an instances pool of solid squares of value 1 (the real
// scenes stay below 0.5, so pasted pixels are recognisable).
func pasteFixture(t *testing.T) (*learn.Dataset, *Instances) {
	t.Helper()
	const S = 32
	ds := &learn.Dataset{Segmentation: true, N: 4, H: S, W: S, Classes: []string{"a", "b"},
		Groups: map[string]string{"a": "rare", "b": "frequent"},
		Images: make([]uint8, 4*S*S), Labels: make([]int, 4*S*S)}
	r := rand.New(rand.NewPCG(1, 1))
	for i := range ds.Images {
		ds.Images[i] = uint8(r.IntN(100))
		if ds.Images[i] > 80 {
			ds.Labels[i] = 1 + r.IntN(2)
		}
	}
	inst := &Instances{Classes: []string{"a", "b"}, Sources: []string{"g1", "g2"}}
	for k := 0; k < 12; k++ {
		inst.Items = append(inst.Items, solid(4+k%3, 4+k%3, 1))
		inst.Labels = append(inst.Labels, k%2)
		inst.Source = append(inst.Source, k/6)
	}
	return ds, inst
}

// TestPasterDraws: over many scenes the drawn counts are uniform on
// [0, max_paste], categories uniform, flips at the given rate for the
// mirror-safe category and never for the other, and sides follow each
// category's size statistics (sample mean and std against the stats' mean
// and std, within sampling error).
func TestPasterDraws(t *testing.T) {
	ds, inst := pasteFixture(t)
	ds.MirrorSafe = []bool{false, true} // "a" is not mirror-safe, "b" is
	pp := PasteParams{MaxPaste: 5, MinSide: 1, Flip: 0.3}
	ps, err := newPaster(pp, inst, nil, ds, fixtureSizes, DrawMixed, 9)
	if err != nil {
		t.Fatal(err)
	}
	const scenes = 4000
	counts := make([]int, pp.MaxPaste+1)
	sides := [2][]float64{}
	flips, total := [2]int{}, [2]int{}
	for range scenes {
		pl := ps.plan(0)
		counts[len(pl)]++
		for _, q := range pl {
			if inst.Labels[q.Item] != q.Category {
				t.Fatalf("item %d of category %d placed as %d", q.Item, inst.Labels[q.Item], q.Category)
			}
			w, h := resizedDims(inst.Items[q.Item], q.Side)
			if q.X < 0 || q.Y < 0 || q.X+w > ds.W || q.Y+h > ds.H {
				t.Fatalf("box %dx%d at (%d,%d) leaves the %dx%d scene", w, h, q.X, q.Y, ds.W, ds.H)
			}
			sides[q.Category] = append(sides[q.Category], float64(q.Side))
			if q.Flip {
				flips[q.Category]++
			}
			total[q.Category]++
		}
	}
	for k, n := range counts {
		// Binomial(scenes, 1/6): std ≈ 23.6; allow 5σ.
		if math.Abs(float64(n)-scenes/6.0) > 120 {
			t.Errorf("count %d drawn %d times, want about %d", k, n, scenes/6)
		}
	}
	if flips[0] != 0 {
		t.Errorf("%d of %d instances of the category that is not mirror-safe were flipped, want none", flips[0], total[0])
	}
	if f := float64(flips[1]) / float64(total[1]); math.Abs(f-0.3) > 0.03 {
		t.Errorf("flip rate %.3f of the mirror-safe category, want 0.3", f)
	}
	if d := len(sides[0]) - len(sides[1]); math.Abs(float64(d)) > 5*math.Sqrt(float64(total[0]+total[1])) {
		t.Errorf("categories drawn %d and %d times, want about equal", len(sides[0]), len(sides[1]))
	}
	for c, name := range ds.Classes {
		st := fixtureSizes[name]
		m, sd := meanStd(sides[c])
		n := float64(len(sides[c]))
		// Rounding to whole pixels adds variance 1/12.
		wantSD := math.Sqrt(st.SideStd*st.SideStd + 1.0/12)
		if math.Abs(m-st.SideMean) > 5*wantSD/math.Sqrt(n) {
			t.Errorf("%s: mean side %.3f, want %.3f", name, m, st.SideMean)
		}
		if math.Abs(sd-wantSD) > 0.08*wantSD {
			t.Errorf("%s: side std %.3f, want %.3f", name, sd, wantSD)
		}
	}
}

func meanStd(xs []float64) (float64, float64) {
	m := mean(xs)
	var v float64
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return m, math.Sqrt(v / float64(len(xs)))
}

// TestProposeWeightMap: the generated part's weight map is 1 exactly on
// the pasted pixels (recognised independently by their value 1, which no
// real pixel has), its labels there are pasted categories, everything
// else equals the real batch, Train is the same scenes unweighted, and
// with draw pool each proposal comes from one source.
func TestProposeWeightMap(t *testing.T) {
	ds, inst := pasteFixture(t)
	ps, err := newPaster(PasteParams{MaxPaste: 6, MinSide: 2, Flip: 0.5}, inst, nil, ds, fixtureSizes, DrawPool, 3)
	if err != nil {
		t.Fatal(err)
	}
	hw := ds.H * ds.W
	seen := map[string]bool{}
	for it := 0; it < 20; it++ {
		real := ds.Batch([]int{0, 1, 2, 3})
		orig := real.X[0]
		pr, ok, err := ps.Propose(context.Background(), Step{It: it}, real)
		if err != nil {
			t.Fatal(err)
		}
		if real.X[0] != orig {
			t.Fatal("Propose edited the real batch")
		}
		if !ok {
			continue
		}
		if pr.Train == nil || pr.Train.W != nil || !slices.Equal(pr.Train.X, pr.Gen.X) || !slices.Equal(pr.Train.Y, pr.Gen.Y) {
			t.Fatal("Train is not the pasted scenes with all pixels")
		}
		pasted := 0
		for j := range pr.Gen.X {
			isPaste := pr.Gen.X[j] == 1
			if (pr.Gen.W[j] == 1) != isPaste || pr.Gen.W[j] != 0 && pr.Gen.W[j] != 1 {
				t.Fatalf("iteration %d pixel %d: weight %v, pasted %v", it, j, pr.Gen.W[j], isPaste)
			}
			if isPaste {
				pasted++
				if pr.Gen.Y[j] < 1 || pr.Gen.Y[j] > 2 {
					t.Fatalf("pasted pixel labelled %d", pr.Gen.Y[j])
				}
			} else if pr.Gen.X[j] != real.X[j] || pr.Gen.Y[j] != real.Y[j] {
				t.Fatalf("iteration %d: unpasted pixel %d of scene %d changed", it, j%hw, j/hw)
			}
		}
		if pasted == 0 || len(pr.Sources) == 0 || len(pr.Sources) != len(pr.Categories) {
			t.Fatalf("iteration %d: %d pasted pixels, %d sources, %d categories", it, pasted, len(pr.Sources), len(pr.Categories))
		}
		for _, s := range pr.Sources[1:] {
			if s != pr.Sources[0] {
				t.Fatalf("draw pool mixed sources %q", pr.Sources)
			}
		}
		seen[pr.Sources[0]] = true
	}
	if !seen["g1"] || !seen["g2"] {
		t.Errorf("sources proposed %v, want both", seen)
	}
}

// TestPasterDeterministic: equal seeds give equal proposals, another seed
// different ones.
func TestPasterDeterministic(t *testing.T) {
	ds, inst := pasteFixture(t)
	draw := func(seed uint64) []Proposal {
		ps, err := newPaster(PasteParams{MaxPaste: 4, MinSide: 2, Flip: 0.5}, inst, nil, ds, fixtureSizes, DrawMixed, seed)
		if err != nil {
			t.Fatal(err)
		}
		var out []Proposal
		for it := 0; it < 5; it++ {
			pr, _, err := ps.Propose(context.Background(), Step{It: it}, ds.Batch([]int{it % 4, 3}))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, pr)
		}
		return out
	}
	same := func(a, b []Proposal) bool {
		for i := range a {
			if !slices.Equal(a[i].Gen.X, b[i].Gen.X) || !slices.Equal(a[i].Gen.W, b[i].Gen.W) || !slices.Equal(a[i].Categories, b[i].Categories) {
				return false
			}
		}
		return true
	}
	if !same(draw(5), draw(5)) {
		t.Error("equal seeds gave different proposals")
	}
	if same(draw(5), draw(6)) {
		t.Error("different seeds gave equal proposals")
	}
}

// writeInstances writes an instances dir (format.Instances, as the select
// kind does).
func writeInstances(t *testing.T, images, masks []uint8, labels []int64, s int, classes []string, source string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "inst-"+source)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	k := len(labels)
	in := &format.Instances{N: k, H: s, W: s, Images: images, Masks: masks, Labels: labels, Scores: make([]float32, k),
		Meta: format.InstancesMeta{Classes: classes, Source: source}}
	if err := in.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestLoadInstancesFraction: per dir and per category the first ⌈f·n⌉
// items are kept, so smaller fractions nest in larger ones; empty masks
// are skipped; a foreign task is refused.
func TestLoadInstancesFraction(t *testing.T) {
	const s = 4
	var imgs, masks []uint8
	var labels []int64
	// Category 0: 5 items, category 1: 3 items (category-major); item i
	// has brightness 10·(i+1) on its mask, item 6 an empty mask.
	for i := 0; i < 8; i++ {
		l := int64(0)
		if i >= 5 {
			l = 1
		}
		labels = append(labels, l)
		for j := 0; j < s*s; j++ {
			imgs = append(imgs, uint8(10*(i+1)))
			m := uint8(1)
			if i == 6 || j >= 8 {
				m = 0
			}
			masks = append(masks, m)
		}
	}
	dir := writeInstances(t, imgs, masks, labels, s, []string{"a", "b"}, "g")
	ids := func(f float64) []float32 {
		in, err := LoadInstances([]string{dir}, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []float32
		for k, p := range in.Items {
			if p.W != 4 || p.H != 2 || in.Source[k] != 0 {
				t.Fatalf("item %d cropped to %dx%d, want 4x2", k, p.W, p.H)
			}
			out = append(out, p.Values[0]*255/10)
		}
		return out
	}
	round := func(xs []float32) []int {
		var o []int
		for _, x := range xs {
			o = append(o, int(math.Round(float64(x))))
		}
		return o
	}
	for _, c := range []struct {
		f    float64
		want []int
	}{
		{1, []int{1, 2, 3, 4, 5, 6, 8}},
		{0.4, []int{1, 2, 6}}, // ⌈2⌉ of a; ⌈1.2⌉ = 2 of b, the second (7) empty
		{0.2, []int{1, 6}},
		{0.01, []int{1, 6}},
	} {
		if got := round(ids(c.f)); !slices.Equal(got, c.want) {
			t.Errorf("fraction %v: items %v, want %v", c.f, got, c.want)
		}
	}
	b, _ := json.Marshal(map[string]any{"task": "classification", "classes": []string{"a", "b"}})
	os.WriteFile(filepath.Join(dir, "meta.json"), b, 0o644)
	if _, err := LoadInstances([]string{dir}, 1); err == nil {
		t.Error("a classification meta.json was accepted as instances")
	}
}

// blob draws a filled ellipse with a brightness ramp into a 28×28 image.
func blob(r *rand.Rand) []uint8 {
	img := make([]uint8, 28*28)
	cx, cy := 14+r.Float64()*4-2, 14+r.Float64()*4-2
	rx, ry := 3+r.Float64()*7, 4+r.Float64()*7
	for y := 0; y < 28; y++ {
		for x := 0; x < 28; x++ {
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			if d := dx*dx + dy*dy; d < 1 {
				img[y*28+x] = uint8(120 + 135*(1-d))
			}
		}
	}
	return img
}

// writeSplits writes a dataset node's output (train/ and test/) with 10
// classes of synthetic blobs.
func writeSplits(t *testing.T, classes []string, seed uint64, per int) string {
	t.Helper()
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(seed, 4))
	for _, split := range []string{"train", "test"} {
		c := &format.Classification{N: 10 * per, H: 28, W: 28, Meta: format.ClassMeta{Classes: classes}}
		for i := 0; i < c.N; i++ {
			c.Images = append(c.Images, blob(r)...)
			c.Labels = append(c.Labels, int64(i%10))
		}
		if err := c.Save(filepath.Join(dir, split)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestPasteEndToEnd builds a tiny lt-seg with the real ltseg kind, makes
// two INSTANCES pools from its reference corpus (a good one, and one whose
// labels are shuffled), and trains an fcn with online BSGAL on pasted
// scenes: every iteration that pasted something is logged with its
// sources and categories, the acceptance rates per source and group are
// reported, and a second run gives byte-identical outputs.
func TestPasteEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an fcn")
	}
	digits := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	k := data.LTSegKind()
	lp := k.Params().(*data.LTSegParams)
	lp.Size, lp.RareMax, lp.CommonMax, lp.FrequentMax, lp.TestScenesPerClass, lp.Preview, lp.Seed = 32, 2, 5, 8, 2, 2, 1
	lp.MinSide, lp.MaxSide, lp.MaxInstances = 9, 13, 2
	node, err := k.Construct(nodes.Build{}, lp)
	if err != nil {
		t.Fatal(err)
	}
	lt := t.TempDir()
	env := &nodes.Env{Inputs: map[string][]string{"mnist": {writeSplits(t, digits, 1, 30)}, "fashion": {writeSplits(t, data.FashionClasses(), 2, 30)}},
		OutDir: lt, TempDir: t.TempDir()}
	if err := node.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	ref, err := format.LoadClassification(filepath.Join(lt, "reference"))
	if err != nil {
		t.Fatal(err)
	}
	n := min(ref.N, 60)
	masks := make([]uint8, n*28*28)
	for i, v := range ref.Images[:n*28*28] {
		if v > 100 {
			masks[i] = 1
		}
	}
	good := writeInstances(t, ref.Images[:n*28*28], masks, ref.Labels[:n], 28, ref.Meta.Classes, "good")
	shuffled := slices.Clone(ref.Labels[:n])
	r := rand.New(rand.NewPCG(3, 3))
	r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	bad := writeInstances(t, ref.Images[:n*28*28], masks, shuffled, 28, ref.Meta.Classes, "bad")

	p := DefaultParams()
	p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{4, 8}, 12, 4, 2, 5
	p.Optimizer, p.LR = "adamw", 0.01
	p.Paste.MaxPaste = 3
	p.Select.Mode = ModeBSGAL
	p.Select.Threshold.Window = 10
	trainOnce := func() string {
		env, _ := newEnv(t, filepath.Join(lt, "train"), "")
		env.Inputs["pool"] = []string{good, bad}
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		return env.OutDir
	}
	out := trainOnce()
	m := readMetrics(t, out)
	if m.Task != "segmentation" || m.Proposed == 0 || m.Proposed > p.Iterations || m.AcceptRate == nil {
		t.Fatalf("metrics %+v: want segmentation with proposals", m)
	}
	if _, ok := m.AcceptBySource["good"]; !ok {
		t.Errorf("accept_by_source %v lacks good", m.AcceptBySource)
	}
	if len(m.AcceptByGroup) == 0 {
		t.Errorf("accept_by_group is empty")
	}
	rows := readDecisions(t, out)
	if len(rows) != m.Proposed {
		t.Fatalf("%d decision rows for %d proposals", len(rows), m.Proposed)
	}
	acc := 0
	for _, row := range rows {
		ns, nc := 0, 0
		for src, c := range row.sources {
			if src != "good" && src != "bad" {
				t.Errorf("row %d: source %q", row.it, src)
			}
			ns += c
		}
		for cat, c := range row.categories {
			if !slices.Contains(ref.Meta.Classes, cat) {
				t.Errorf("row %d: category %q", row.it, cat)
			}
			nc += c
		}
		if ns == 0 || ns != nc || len(row.sources) != 1 || math.IsNaN(row.score) {
			t.Errorf("row %d: sources %v categories %v score %v", row.it, row.sources, row.categories, row.score)
		}
		if row.accepted {
			acc++
		}
	}
	if acc != m.Accepted {
		t.Errorf("%d accepted rows, metrics say %d", acc, m.Accepted)
	}
	again := trainOnce()
	for _, f := range []string{"metrics.json", "decisions.csv", "loss.csv", "model/model.json", "gallery/gallery.csv", "gallery/images.npy"} {
		a, err1 := os.ReadFile(filepath.Join(out, f))
		b, err2 := os.ReadFile(filepath.Join(again, f))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between equal runs (%v, %v)", f, err1, err2)
		}
	}
	// The weights too.
	w1, _ := os.ReadDir(filepath.Join(out, "model"))
	for _, e := range w1 {
		a, _ := os.ReadFile(filepath.Join(out, "model", e.Name()))
		b, _ := os.ReadFile(filepath.Join(again, "model", e.Name()))
		if !bytes.Equal(a, b) {
			t.Errorf("model/%s differs between equal runs", e.Name())
		}
	}

	// Modes offline and filter draw only the pool items the scores input
	// keeps: here the good pool's (items 0..n-1) but its first, by
	// accepted.npy for offline and by score ≥ tau for filter.
	scoreDir := t.TempDir()
	scores := make([]float64, 2*n)
	var accepted []int64
	for i := range scores {
		if i >= 1 && i < n {
			scores[i] = 1
			accepted = append(accepted, int64(i))
		}
	}
	if err := format.SaveScores(scoreDir, scores, accepted); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{ModeOffline, ModeFilter} {
		q := p
		q.Select.Mode, q.Select.Tau = mode, 0.5
		env, _ := newEnv(t, filepath.Join(lt, "train"), "")
		env.Inputs["pool"] = []string{good, bad}
		env.Inputs["scores"] = []string{scoreDir}
		if err := run(t, q, env, nil); err != nil {
			t.Fatalf("mode %s: %v", mode, err)
		}
		m := readMetrics(t, env.OutDir)
		loaded := 0 // items with a non-empty mask, as LoadInstances counts
		for i := range n {
			if slices.Contains(masks[i*28*28:(i+1)*28*28], 1) {
				loaded++
			}
		}
		kept := loaded
		if slices.Contains(masks[:28*28], 1) {
			kept--
		}
		if m.AcceptRate == nil || math.Abs(*m.AcceptRate-float64(kept)/float64(2*loaded)) > 1e-12 ||
			m.AcceptBySource["bad"] != 0 || math.Abs(m.AcceptBySource["good"]-float64(kept)/float64(loaded)) > 1e-12 {
			t.Errorf("mode %s: accept_rate %v by source %v, want %d of %d, good only", mode, m.AcceptRate, m.AcceptBySource, kept, 2*loaded)
		}
		rows := readDecisions(t, env.OutDir)
		if len(rows) == 0 {
			t.Fatalf("mode %s: no decisions", mode)
		}
		for _, row := range rows {
			for _, it := range row.items {
				if it < 1 || it >= n || !row.accepted {
					t.Errorf("mode %s: iteration %d drew pool item %d (accepted %v), want one of 1..%d", mode, row.it, it, row.accepted, n-1)
				}
			}
		}
		grows, _, _ := readGallery(t, env.OutDir)
		dropped := 0
		for _, g := range grows {
			if g.it == 0 {
				dropped++
				if g.accepted || g.poolItem >= 1 && g.poolItem < n {
					t.Errorf("mode %s: gallery row %+v: a dropped row of a kept item", mode, g)
				}
			}
		}
		if dropped == 0 {
			t.Errorf("mode %s: the gallery shows no dropped item", mode)
		}
	}
}

// TestPoolPrefix: a classification pool's fraction keeps the first
// ⌈f·n⌉ items per pool dir and category, in file order.
func TestPoolPrefix(t *testing.T) {
	// Dir 0: labels a a b a b; dir 1: b b.
	p := &format.Pools{Labels: []int{0, 0, 1, 0, 1, 1, 1}, Sources: []string{"x", "y"}, Start: []int{0, 5, 7}}
	for _, c := range []struct {
		f    float64
		want []int
	}{
		{1, []int{0, 1, 2, 3, 4, 5, 6}},
		{0.5, []int{0, 1, 2, 5}}, // ⌈1.5⌉ = 2 of a, ⌈1⌉ of b; ⌈1⌉ of dir 1's b
		{0.01, []int{0, 2, 5}},
	} {
		if got := poolPrefix(p, c.f); !slices.Equal(got, c.want) {
			t.Errorf("prefix(%v) = %v, want %v", c.f, got, c.want)
		}
	}
}

// TestPasteErrors: instance paste refuses a preselecting mode without scores, a pool
// of the wrong task and a bad paste block.
func TestPasteErrors(t *testing.T) {
	seg := writeSegmentation(t, 6, 61)
	cls := writeClassification(t, 8, 62)
	for _, c := range []struct {
		mode, want string
		pool       string
	}{
		{ModeFilter, "needs a scores input", writeInstances(t, make([]uint8, 4*4), []uint8{0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, []int64{0}, 4, []string{"a"}, "x")},
		{ModeBSGAL, `task "classification", want "instances"`, cls},
	} {
		p := smallParams(c.mode, 2)
		p.Arch, p.Hidden = "fcn", nil
		env, _ := newEnv(t, seg, "")
		env.Inputs["pool"] = []string{c.pool}
		if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mode %s: err = %v, want %q", c.mode, err, c.want)
		}
	}
	for _, edit := range []func(*Params){
		func(p *Params) { p.Paste.MaxPaste = -1 },
		func(p *Params) { p.Paste.Flip = 1.5 },
		func(p *Params) { p.Paste.MinSide = 0 },
		func(p *Params) { p.PoolFraction = 0 },
	} {
		p := DefaultParams()
		edit(&p)
		if p.Validate() == nil {
			t.Errorf("%+v: want an error", p.Paste)
		}
	}
}
