package report

import (
	"image/color"
	"image/png"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestByTruth: each decision's items are counted by truth, in place of
// its sources; an item beyond the truth is an error.
func TestByTruth(t *testing.T) {
	truth := []string{"clean", "noise", "clean", "box_mask"}
	ds := []Decision{
		{Iteration: 1, Score: 0.5, Accepted: true, Items: []int{0, 2}, Sources: map[string]int{"vae": 2}},
		{Iteration: 2, Score: -1, Accepted: false, Items: []int{1, 3, 0}, Sources: map[string]int{"vae": 3}},
		{Iteration: 3, Score: 0.1, Accepted: true, Items: []int{3}, Sources: map[string]int{"vae": 1}},
	}
	got, err := ByTruth(ds, truth)
	if err != nil {
		t.Fatal(err)
	}
	want := []map[string]int{{"clean": 2}, {"noise": 1, "box_mask": 1, "clean": 1}, {"box_mask": 1}}
	for k := range want {
		if !maps.Equal(got[k].Sources, want[k]) || got[k].Iteration != ds[k].Iteration {
			t.Errorf("decision %d: %v, want %v", k, got[k].Sources, want[k])
		}
	}
	if ds[0].Sources["vae"] != 2 {
		t.Error("ByTruth changed its input")
	}
	// Acceptance over one bin: clean 2 of 3, noise 0 of 1, box_mask 1 of 2.
	rates := map[string]float64{}
	for _, s := range AcceptanceOverTime([][]Decision{got}, BySource, 1) {
		rates[s.Name] = s.Y[0]
	}
	if rates["clean"] != 2.0/3 || rates["noise"] != 0 || rates["box_mask"] != 0.5 {
		t.Errorf("acceptance %v", rates)
	}
	// Batch scores: the clean-only batch under clean; the mixed one under
	// noise and box_mask; the last under box_mask.
	bs := BatchScoresByTruth([][]Decision{got})
	names := []string{}
	vals := map[string][]float64{}
	for _, s := range bs {
		names = append(names, s.Name)
		vals[s.Name] = s.Values
		if s.Color != TruthColor(s.Name) {
			t.Errorf("%s: colour %v", s.Name, s.Color)
		}
	}
	if !slices.Equal(names, []string{"clean", "box_mask", "noise"}) || !slices.Equal(vals["clean"], []float64{0.5}) ||
		!slices.Equal(vals["box_mask"], []float64{-1, 0.1}) || !slices.Equal(vals["noise"], []float64{-1}) {
		t.Errorf("batch scores %v %v", names, vals)
	}
	if _, err := ByTruth([]Decision{{Iteration: 1, Items: []int{4}}}, truth); err == nil {
		t.Error("an item beyond the truth was counted")
	}
}

// TestItemScoresByTruth: per-item scores split by truth, clean first; a
// length mismatch is an error.
func TestItemScoresByTruth(t *testing.T) {
	s, err := ItemScoresByTruth([]float64{1, 2, 3, 4}, []string{"noise", "clean", "noise", "clean"})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[0].Name != "clean" || !slices.Equal(s[0].Values, []float64{2, 4}) || !slices.Equal(s[1].Values, []float64{1, 3}) {
		t.Errorf("samples %+v", s)
	}
	if _, err := ItemScoresByTruth([]float64{1}, []string{"clean", "clean"}); err == nil {
		t.Error("1 score for 2 items accepted")
	}
}

// TestSaveGalleryTruth: with the truth of the pool items, each defective
// tile gets a band of its type's colour (far more pixels than the
// legend's 12×12 swatch) and a ground of the darker shade; a type absent
// from the gallery gets neither, and without truth no truth colour is
// drawn at all.
func TestSaveGalleryTruth(t *testing.T) {
	c, i, m := galleryFixture(t)
	items, err := ParseGallery(c, i, m)
	if err != nil {
		t.Fatal(err)
	}
	truth := make([]string, 33)
	for k := range truth {
		truth[k] = "clean"
	}
	truth[31], truth[32], truth[12] = "box_mask", "noise", "fragment"
	count := func(withTruth []string, col color.RGBA) int {
		path := filepath.Join(t.TempDir(), "g.png")
		if err := SaveGallery(path, Figure{Title: "t"}, items, nil, withTruth); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl, _ := img.At(x, y).RGBA()
				if uint8(r>>8) == col.R && uint8(g>>8) == col.G && uint8(bl>>8) == col.B {
					n++
				}
			}
		}
		return n
	}
	for _, d := range []string{"box_mask", "noise", "fragment"} {
		if n := count(truth, TruthColor(d)); n < 144+300 {
			t.Errorf("%s: %d pixels of its colour, want a band (over %d)", d, n, 144+300)
		}
		if n := count(truth, tint(d)); n == 0 {
			t.Errorf("%s: no pixel of its ground tint", d)
		}
		if n := count(nil, TruthColor(d)); n != 0 {
			t.Errorf("%s: %d pixels of its colour without truth", d, n)
		}
	}
	if n := count(truth, TruthColor("multi")); n != 0 {
		t.Errorf("multi, absent, has %d pixels", n)
	}
}
