package report

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// checkPNG asserts that path is a PNG of w×h pixels (any size when w is
// 0) that is not one flat colour.
func checkPNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", filepath.Base(path), err)
	}
	if b := img.Bounds(); w > 0 && (b.Dx() != w || b.Dy() != h) {
		t.Errorf("%s is %dx%d, want %dx%d", filepath.Base(path), b.Dx(), b.Dy(), w, h)
	}
	first := img.At(0, 0)
	r0, g0, b0, _ := first.RGBA()
	for y := 0; y < img.Bounds().Dy(); y += 3 {
		for x := 0; x < img.Bounds().Dx(); x += 3 {
			if r, g, b, _ := img.At(x, y).RGBA(); r != r0 || g != g0 || b != b0 {
				return
			}
		}
	}
	t.Errorf("%s is blank", filepath.Base(path))
}

func synthDecisions(n int, seed uint64) []Decision {
	var ds []Decision
	x := seed
	for i := 1; i <= n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		s := float64(x>>11)/float64(1<<53)*2 - 1
		thr := -0.05 + 0.1*float64(i)/float64(n)
		ds = append(ds, Decision{Iteration: i, Score: s, Threshold: thr, Accepted: s >= thr,
			Sources: map[string]int{"vae": 2, "noise": i % 2}, Category: map[string]int{"cat": 1, "dog": 1}})
	}
	return ds
}

func TestPlotFunctions(t *testing.T) {
	dir := t.TempDir()
	ds := synthDecisions(300, 7)
	acc, rej := Scores([][]Decision{ds})
	for _, tc := range []struct {
		name string
		draw func(path string) error
		w, h int
	}{
		{"lines", func(p string) error {
			return SaveLines(p, Figure{Title: "ap vs amount", Width: 500, Height: 300}, []Series{
				{Name: "all", X: []float64{1, 10, 40}, Y: []float64{0.1, 0.2, 0.25}, Err: []float64{0.01, 0.02, 0.01}},
				{Name: "bsgal", X: []float64{1, 10, 40}, Y: []float64{0.12, 0.24, math.NaN()}},
			}, nil)
		}, 500, 300},
		{"nominal", func(p string) error {
			return SaveLines(p, Figure{Title: "ap by method"}, []Series{{X: []float64{0, 1}, Y: []float64{1, 2}, Err: []float64{0.1, 0.2}}}, []string{"none", "bsgal"})
		}, 640, 400},
		{"acceptance", func(p string) error {
			return SaveLines(p, Figure{Title: "acceptance", YMin: 0, YMax: 1}, AcceptanceOverTime([][]Decision{ds}, BySource, 20), nil)
		}, 640, 400},
		{"histogram", func(p string) error {
			return SaveHistogram(p, Figure{Title: "scores", Width: 321, Height: 123}, []Sample{{"accepted", acc, nil}, {"rejected", rej, acceptedColor}}, 25)
		}, 321, 123},
		{"threshold", func(p string) error { return SaveThreshold(p, Figure{Title: "threshold"}, ds) }, 640, 400},
		{"empty lines", func(p string) error { return SaveLines(p, Figure{Title: "nothing"}, nil, nil) }, 640, 400},
		{"empty series", func(p string) error {
			return SaveLines(p, Figure{Title: "nothing"}, []Series{{Name: "x"}, {Name: "nan", X: []float64{1}, Y: []float64{math.NaN()}}}, []string{})
		}, 640, 400},
		{"empty histogram", func(p string) error { return SaveHistogram(p, Figure{Title: "nothing"}, []Sample{{"a", nil, nil}}, 10) }, 640, 400},
		{"constant histogram", func(p string) error {
			return SaveHistogram(p, Figure{Title: "one value"}, []Sample{{"a", []float64{3, 3}, nil}}, 10)
		}, 640, 400},
		{"empty threshold", func(p string) error { return SaveThreshold(p, Figure{Title: "nothing"}, nil) }, 640, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, slug(tc.name)+".png")
			if err := tc.draw(p); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, p, tc.w, tc.h)
		})
	}
}

// The acceptance rate per bin is checked against a direct count: with 4
// iterations in 2 bins, bin 1 holds iterations 1–2 and bin 2 holds 3–4.
func TestAcceptanceOverTime(t *testing.T) {
	ds := []Decision{
		{Iteration: 1, Accepted: true, Sources: map[string]int{"a": 2, "b": 1}},
		{Iteration: 2, Accepted: false, Sources: map[string]int{"a": 1}},
		{Iteration: 3, Accepted: false, Sources: map[string]int{"a": 1}},
		{Iteration: 4, Accepted: true, Sources: map[string]int{"a": 3}},
	}
	got := AcceptanceOverTime([][]Decision{ds}, BySource, 2)
	if len(got) != 2 || got[0].Name != "a" || got[1].Name != "b" {
		t.Fatalf("series %+v, want a and b", got)
	}
	// a: bin 1 (centre 1.5) accepted 2 of 3, bin 2 (centre 3.5) 3 of 4;
	// b: only bin 1, 1 of 1.
	want := map[string][][2]float64{"a": {{1.5, 2.0 / 3}, {3.5, 3.0 / 4}}, "b": {{1.5, 1}}}
	for _, s := range got {
		w := want[s.Name]
		if len(s.X) != len(w) {
			t.Errorf("%s: %d points, want %d", s.Name, len(s.X), len(w))
			continue
		}
		for i := range w {
			if math.Abs(s.X[i]-w[i][0]) > 1e-12 || math.Abs(s.Y[i]-w[i][1]) > 1e-12 {
				t.Errorf("%s point %d = (%v, %v), want (%v, %v)", s.Name, i, s.X[i], s.Y[i], w[i][0], w[i][1])
			}
		}
	}
	groups := AcceptanceOverTime([][]Decision{{{Iteration: 1, Accepted: true, Category: map[string]int{"cat": 2, "dog": 1, "emu": 5}}}},
		ByGroup(map[string]string{"cat": "rare", "dog": "rare"}), 5)
	if len(groups) != 1 || groups[0].Name != "rare" || groups[0].Y[0] != 1 {
		t.Errorf("by group = %+v, want one rare point at 1", groups)
	}
	if AcceptanceOverTime(nil, BySource, 10) != nil {
		t.Error("no decisions: want no series")
	}
}

func TestParseDecisions(t *testing.T) {
	ds, err := ParseDecisions([]byte("iteration,score,threshold,accepted,sources,categories,items\n3,0.25,,true,vae=2;noise=1,cat=3,5;1;5\n4,,,false,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].Iteration != 3 || ds[0].Score != 0.25 || !math.IsNaN(ds[0].Threshold) || !ds[0].Accepted ||
		ds[0].Sources["vae"] != 2 || ds[0].Sources["noise"] != 1 || ds[0].Category["cat"] != 3 || !slices.Equal(ds[0].Items, []int{5, 1, 5}) || ds[1].Accepted || !math.IsNaN(ds[1].Score) {
		t.Errorf("ParseDecisions = %+v", ds)
	}
	for _, bad := range []string{"iteration,accepted\nx,true\n", "iteration,accepted\n1,maybe\n", "iteration,accepted,sources\n1,true,a=b\n"} {
		if _, err := ParseDecisions([]byte(bad)); err == nil {
			t.Errorf("ParseDecisions(%q): no error", bad)
		}
	}
	if ds, err := ParseDecisions(nil); err != nil || len(ds) != 0 {
		t.Errorf("empty file: %v, %v", ds, err)
	}
}
