package train

import (
	"bytes"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
)

// TestThinnedEvenSpread: from a stream of n items, the kept ones are
// evenly spaced whatever n, at most k are picked, and a short stream is
// kept whole.
func TestThinnedEvenSpread(t *testing.T) {
	for _, c := range []struct{ n, limit, k int }{{5, 16, 4}, {4, 16, 4}, {1000, 16, 4}, {1001, 16, 8}, {37, 8, 3}} {
		th := thinned{limit: c.limit}
		for i := range c.n {
			th.offer(galleryItem{item: i})
		}
		if len(th.items) > c.limit {
			t.Errorf("n=%d: %d kept, limit %d", c.n, len(th.items), c.limit)
		}
		got := th.pick(c.k)
		if c.n <= c.k {
			if len(got) != c.n {
				t.Errorf("n=%d: picked %d, want all", c.n, len(got))
			}
			continue
		}
		if len(got) != c.k {
			t.Fatalf("n=%d: picked %d, want %d", c.n, len(got), c.k)
		}
		// Evenly spread: the kept items are the multiples of the stride,
		// so pick j lies within two strides of the centre of the j-th of
		// k equal parts of the stream.
		gap := 2 * th.stride
		for j, x := range got {
			centre := (2*j + 1) * c.n / (2 * c.k)
			if x.item != x.seq || math.Abs(float64(x.item-centre)) > float64(gap) {
				t.Errorf("n=%d: pick %d is item %d (seq %d), want within %d of %d", c.n, j, x.item, x.seq, gap, centre)
			}
		}
	}
}

// galleryRow is one parsed row of gallery.csv.
type galleryRow struct {
	it, item         int
	poolItem         int
	accepted         bool
	score, tau       string
	source, category string
}

// readGallery reads gallery/ of a train output and checks that the tiles
// and rows agree in number.
func readGallery(t *testing.T, dir string) (rows []galleryRow, images, masks *artifact.Array) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, format.GalleryDir, format.GalleryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], format.GalleryHeader) {
		t.Fatalf("gallery.csv header %q", recs[0])
	}
	for _, r := range recs[1:] {
		g := galleryRow{score: r[2], tau: r[3], source: r[4], category: r[5], accepted: r[1] == "true"}
		g.it, _ = strconv.Atoi(r[0])
		g.item, _ = strconv.Atoi(r[6])
		g.poolItem, _ = strconv.Atoi(r[7])
		rows = append(rows, g)
	}
	if images, err = artifact.LoadNPY(filepath.Join(dir, format.GalleryDir, format.GalleryImages)); err != nil {
		t.Fatal(err)
	}
	if masks, err = artifact.LoadNPY(filepath.Join(dir, format.GalleryDir, format.GalleryMasks)); err != nil {
		t.Fatal(err)
	}
	if images.DType != "|u1" || len(images.Shape) != 3 || images.Shape[0] != len(rows) || !slices.Equal(masks.Shape, images.Shape) {
		t.Fatalf("images %s %v, masks %v for %d rows", images.DType, images.Shape, masks.Shape, len(rows))
	}
	return rows, images, masks
}

// checkAgainstDecisions asserts that the gallery's split is decisions.csv's:
// accepted rows first, at most format.GalleryK of each, and every row from
// training carries the accepted flag, score and threshold of its
// iteration's decision, whose sources and categories include its own.
// It returns the number of accepted and rejected rows.
func checkAgainstDecisions(t *testing.T, dir string, rows []galleryRow) (acc, rej int) {
	t.Helper()
	byIt := map[int]decisionRow{}
	for _, d := range readDecisions(t, dir) {
		byIt[d.it] = d
	}
	fmtF := func(x float64) string {
		if math.IsNaN(x) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	for n, r := range rows {
		if r.accepted {
			acc++
			if rej > 0 {
				t.Errorf("row %d: accepted after rejected rows", n)
			}
		} else {
			rej++
		}
		if r.it == 0 {
			continue
		}
		d, ok := byIt[r.it]
		if !ok {
			t.Errorf("row %d: iteration %d has no decision", n, r.it)
			continue
		}
		if d.accepted != r.accepted || fmtF(d.score) != r.score || fmtF(d.tau) != r.tau {
			t.Errorf("row %d: accepted %v score %q threshold %q, decision of iteration %d: %v %v %v", n, r.accepted, r.score, r.tau, r.it, d.accepted, d.score, d.tau)
		}
		if !slices.Contains(d.items, r.poolItem) {
			t.Errorf("row %d: pool item %d not in iteration %d's items %v", n, r.poolItem, r.it, d.items)
		}
		if d.sources[r.source] == 0 || d.categories[r.category] == 0 {
			t.Errorf("row %d: source %q category %q not in iteration %d's %v %v", n, r.source, r.category, r.it, d.sources, d.categories)
		}
	}
	if acc > format.GalleryK || rej > format.GalleryK {
		t.Errorf("%d accepted and %d rejected rows, want at most %d each", acc, rej, format.GalleryK)
	}
	return acc, rej
}

// TestGalleryClassification: online BSGAL over a good and a relabelled
// pool writes a gallery whose tiles are the pool images named by its
// rows, whose split is decisions.csv's, spread over training, and which
// is byte-identical across equal runs.
func TestGalleryClassification(t *testing.T) {
	trainDir := writeClassification(t, 32, 41)
	pools := []string{writePool(t, 40, 42, "good", false), writePool(t, 40, 43, "bad", true)}
	p := smallParams(ModeBSGAL, 60)
	p.Select.Threshold.Window = 20
	var outs []string
	for range 2 {
		env := poolEnv(t, trainDir, pools...)
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, env.OutDir)
	}
	rows, images, masks := readGallery(t, outs[0])
	acc, rej := checkAgainstDecisions(t, outs[0], rows)
	// 60 iterations × 8 items at a rate near 0.5: both decisions have
	// more than format.GalleryK items, so each shows exactly format.GalleryK.
	if acc != format.GalleryK || rej != format.GalleryK {
		t.Errorf("%d accepted and %d rejected rows, want %d each", acc, rej, format.GalleryK)
	}
	for _, part := range [][]galleryRow{rows[:acc], rows[acc:]} {
		first, last := part[0].it, part[len(part)-1].it
		if first > p.Iterations/4 || last < 3*p.Iterations/4 {
			t.Errorf("items span iterations %d..%d of %d, want spread over training", first, last, p.Iterations)
		}
		for j := 1; j < len(part); j++ {
			if part[j].it < part[j-1].it {
				t.Errorf("iterations out of order: %d after %d", part[j].it, part[j-1].it)
			}
		}
	}
	pool, err := format.LoadPools(pools)
	if err != nil {
		t.Fatal(err)
	}
	if images.Shape[1] != pool.H || images.Shape[2] != pool.W {
		t.Fatalf("tiles %v, want %dx%d", images.Shape, pool.H, pool.W)
	}
	hw := pool.H * pool.W
	for n, r := range rows {
		if r.poolItem != r.item {
			t.Errorf("row %d: pool_item %d, want item %d (a classification pool's item is its identity)", n, r.poolItem, r.item)
		}
		if !bytes.Equal(images.U8[n*hw:(n+1)*hw], pool.Images[r.item*hw:(r.item+1)*hw]) {
			t.Errorf("row %d: tile is not pool item %d", n, r.item)
		}
		if r.source != pool.Sources[pool.Source[r.item]] || r.category != pool.Classes[pool.Labels[r.item]] {
			t.Errorf("row %d: source %q category %q, pool item %d is %q %q", n, r.source, r.category, r.item,
				pool.Sources[pool.Source[r.item]], pool.Classes[pool.Labels[r.item]])
		}
		if slices.ContainsFunc(masks.U8[n*hw:(n+1)*hw], func(v uint8) bool { return v != 1 }) {
			t.Errorf("row %d: a classification tile's mask is not all 1", n)
		}
	}
	for _, f := range []string{format.GalleryCSV, format.GalleryImages, format.GalleryMasks} {
		a, _ := os.ReadFile(filepath.Join(outs[0], format.GalleryDir, f))
		b, _ := os.ReadFile(filepath.Join(outs[1], format.GalleryDir, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between equal runs", f)
		}
	}
}

// TestGalleryModes: mode all shows accepted items only; offline shows as
// rejected the pool items the scores input left out (iteration 0, with
// their own scores); mode none writes no gallery.
func TestGalleryModes(t *testing.T) {
	trainDir := writeClassification(t, 32, 51)
	pools := []string{writePool(t, 20, 52, "keep", false), writePool(t, 20, 53, "drop", true)}
	scores := make([]float64, 40)
	var accepted []int64
	for i := range scores {
		scores[i] = -1 - float64(i)/100
		if i < 20 {
			scores[i] = 1
			accepted = append(accepted, int64(i))
		}
	}
	scoreDir := writeScores(t, scores, accepted)
	for _, c := range []struct {
		mode     string
		acc, rej int
	}{{ModeAll, 8 * 10, 0}, {ModeOffline, 8 * 10, 20}, {ModeNone, -1, -1}} {
		t.Run(c.mode, func(t *testing.T) {
			p := smallParams(c.mode, 10)
			env := poolEnv(t, trainDir, pools...)
			env.Inputs["scores"] = []string{scoreDir}
			if err := run(t, p, env, nil); err != nil {
				t.Fatal(err)
			}
			if c.acc < 0 {
				if _, err := os.Stat(filepath.Join(env.OutDir, format.GalleryDir)); err == nil {
					t.Error("mode none wrote a gallery")
				}
				return
			}
			rows, _, _ := readGallery(t, env.OutDir)
			acc, rej := checkAgainstDecisions(t, env.OutDir, rows)
			if acc != min(c.acc, format.GalleryK) || rej != min(c.rej, format.GalleryK) {
				t.Errorf("%d accepted and %d rejected rows, want %d and %d", acc, rej, min(c.acc, format.GalleryK), min(c.rej, format.GalleryK))
			}
			for _, r := range rows[acc:] {
				want := strconv.FormatFloat(scores[r.item], 'g', -1, 64)
				if r.it != 0 || r.item < 20 || r.source != "drop" || r.score != want || r.tau != "" {
					t.Errorf("rejected row %+v: want a dropped pool item (20..39) at iteration 0 with score %s", r, want)
				}
			}
		})
	}
}

// TestGalleryPaste: pasted instances appear as their generated crops with
// their masks, centred in equal tiles; the split is decisions.csv's and
// equal runs give equal bytes.
func TestGalleryPaste(t *testing.T) {
	if testing.Short() {
		t.Skip("trains an fcn")
	}
	const s = 8
	classes := []string{"a", "b", "c"}
	r := rand.New(rand.NewPCG(61, 1))
	var dirs []string
	for k, src := range []string{"g1", "g2"} {
		var imgs, masks []uint8
		var labels []int64
		for i := range 12 {
			// A filled rectangle of random size and place on noise.
			w, h := 2+r.IntN(5), 2+r.IntN(5)
			x0, y0 := r.IntN(s-w+1), r.IntN(s-h+1)
			for y := range s {
				for x := range s {
					in := x >= x0 && x < x0+w && y >= y0 && y < y0+h
					v, m := uint8(r.IntN(40)), uint8(0)
					if in {
						v, m = uint8(150+r.IntN(100)), 1
					}
					imgs, masks = append(imgs, v), append(masks, m)
				}
			}
			labels = append(labels, int64((i+k)%3))
		}
		// Item 3 of the first dir has no object: train skips it, so the
		// items after it have a pool identity one above their index.
		if k == 0 {
			clear(masks[3*s*s : 4*s*s])
		}
		dirs = append(dirs, writeInstances(t, imgs, masks, labels, s, classes, src))
	}
	seg := writeSegmentation(t, 24, 62)
	p := DefaultParams()
	p.Arch, p.Channels, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "fcn", []int{4, 4}, 30, 4, 2, 3
	p.Paste.MaxPaste, p.Paste.MinSide = 2, 2
	p.Select.Mode, p.Select.Rate = ModeRandom, 0.5
	var outs []string
	for range 2 {
		env := poolEnv(t, seg, dirs...)
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, env.OutDir)
	}
	rows, images, masks := readGallery(t, outs[0])
	acc, rej := checkAgainstDecisions(t, outs[0], rows)
	if acc == 0 || rej == 0 {
		t.Errorf("%d accepted and %d rejected rows, want both", acc, rej)
	}
	inst, err := LoadInstances(dirs, 1)
	if err != nil {
		t.Fatal(err)
	}
	th, tw := images.Shape[1], images.Shape[2]
	shifted := false
	for n, row := range rows {
		it := inst.Items[row.item]
		// The pool identity counts every item of every dir (12 each): the
		// tile's category is that raw item's label.
		want := row.item
		if row.item >= 3 {
			want++
		}
		shifted = shifted || want != row.item
		if row.poolItem != want || inst.Index[row.item] != want {
			t.Errorf("row %d: pool_item %d (Index %d), want %d", n, row.poolItem, inst.Index[row.item], want)
		}
		if k := row.poolItem / 12; row.category != classes[(row.poolItem%12+k)%3] {
			t.Errorf("row %d: category %q, raw pool item %d is %q", n, row.category, row.poolItem, classes[(row.poolItem%12+k)%3])
		}
		if row.source != inst.Sources[inst.Source[row.item]] || row.category != classes[inst.Labels[row.item]] {
			t.Errorf("row %d: source %q category %q, instance %d is %q %q", n, row.source, row.category, row.item,
				inst.Sources[inst.Source[row.item]], classes[inst.Labels[row.item]])
		}
		ox, oy := (tw-it.W)/2, (th-it.H)/2
		for y := range th {
			for x := range tw {
				j := n*th*tw + y*tw + x
				var wantV, wantM uint8
				if x >= ox && x < ox+it.W && y >= oy && y < oy+it.H {
					k := (y-oy)*it.W + x - ox
					wantV = uint8(math.Round(float64(it.Values[k]) * 255))
					if it.Mask[k] {
						wantM = 1
					}
				}
				if images.U8[j] != wantV || masks.U8[j] != wantM {
					t.Fatalf("row %d (instance %d): pixel (%d,%d) is %d/%d, want %d/%d", n, row.item, x, y, images.U8[j], masks.U8[j], wantV, wantM)
				}
			}
		}
	}
	if !shifted {
		t.Error("no shown item lies after the skipped one: the test does not check the shift")
	}
	for _, d := range readDecisions(t, outs[0]) {
		n := 0
		for _, c := range d.categories {
			n += c
		}
		if len(d.items) != n {
			t.Errorf("iteration %d: %d items %v for %d categories", d.it, len(d.items), d.items, n)
		}
		for _, x := range d.items {
			if x == 3 || x < 0 || x >= 24 {
				t.Errorf("iteration %d: pool item %d was never loaded", d.it, x)
			}
		}
	}
	for _, f := range []string{format.GalleryCSV, format.GalleryImages, format.GalleryMasks} {
		a, _ := os.ReadFile(filepath.Join(outs[0], format.GalleryDir, f))
		b, _ := os.ReadFile(filepath.Join(outs[1], format.GalleryDir, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between equal runs", f)
		}
	}
}
