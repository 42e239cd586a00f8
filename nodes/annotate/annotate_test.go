package annotate

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

func TestThresholdMask(t *testing.T) {
	img := []uint8{0, 127, 128, 255}
	for _, tc := range []struct {
		level int
		want  []uint8
	}{
		{127, []uint8{0, 0, 1, 1}},
		{0, []uint8{0, 1, 1, 1}},
		{255, []uint8{0, 0, 0, 0}},
	} {
		if got := ThresholdMask(img, tc.level); !bytes.Equal(got, tc.want) {
			t.Errorf("ThresholdMask(level %d) = %v, want %v", tc.level, got, tc.want)
		}
	}
}

// TestOtsuHand checks a histogram worked by hand. Pixels 0,0,0,60,100,220,
// 240,250; the between-class variance w0·w1·(μ0−μ1)² is
//
//	t in [0, 59]:    3/8 · 5/8 · (0 − 174)²          = 7095.94
//	t in [60, 99]:   4/8 · 4/8 · (15 − 202.5)²       = 8789.06
//	t in [100, 219]: 5/8 · 3/8 · (32 − 236.667)²     = 9817.60  ← max
//	t in [220, 239]: 6/8 · 2/8 · (63.333 − 245)²     = 6188.02
//	t in [240, 249]: 7/8 · 1/8 · (88.571 − 250)²     = 2850.80
//
// so the level is 100 (the lowest of the tied range) and the mask holds
// 220, 240, 250.
func TestOtsuHand(t *testing.T) {
	img := []uint8{0, 220, 0, 60, 250, 100, 0, 240}
	level, ok := OtsuLevel(img)
	if !ok || level != 100 {
		t.Fatalf("OtsuLevel = %d, %v, want 100, true", level, ok)
	}
	if got, want := OtsuMask(img), []uint8{0, 1, 0, 0, 1, 0, 0, 1}; !bytes.Equal(got, want) {
		t.Errorf("OtsuMask = %v, want %v", got, want)
	}
	if _, ok := OtsuLevel([]uint8{7, 7, 7}); ok {
		t.Error("OtsuLevel of a one-intensity image: ok, want not ok")
	}
	if got := OtsuMask([]uint8{200, 200}); !bytes.Equal(got, []uint8{0, 0}) {
		t.Errorf("OtsuMask of a one-intensity image = %v, want empty", got)
	}
}

// TestOtsuBruteForce compares with the equivalent definition: the level
// minimising the within-class variance, computed from the pixels directly.
func TestOtsuBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 30; trial++ {
		img := make([]uint8, 64)
		for i := range img {
			if r.IntN(3) == 0 {
				img[i] = uint8(150 + r.IntN(100))
			} else {
				img[i] = uint8(r.IntN(120))
			}
		}
		within := func(t int) float64 {
			var s float64
			for _, side := range []bool{false, true} {
				var n, sum, sq float64
				for _, v := range img {
					if (int(v) > t) == side {
						n++
						sum += float64(v)
						sq += float64(v) * float64(v)
					}
				}
				if n > 0 {
					s += sq - sum*sum/n
				}
			}
			return s
		}
		best := math.Inf(1)
		for l := 0; l < 255; l++ {
			best = min(best, within(l))
		}
		level, _ := OtsuLevel(img)
		if got := within(level); got > best*(1+1e-9)+1e-9 {
			t.Errorf("trial %d: level %d has within-class SS %v, the minimum is %v", trial, level, got, best)
		}
	}
}

func TestKMeans(t *testing.T) {
	img := []uint8{10, 200, 12, 210, 14, 220}
	for seed := uint64(0); seed < 8; seed++ {
		assign, c, ok := KMeans2(img, rand.New(rand.NewPCG(seed, 0)))
		if !ok || c != [2]float64{12, 210} || !bytes.Equal(assign, []uint8{0, 1, 0, 1, 0, 1}) {
			t.Errorf("seed %d: KMeans2 = %v, %v, %v, want [0 1 0 1 0 1], [12 210], true", seed, assign, c, ok)
		}
	}
	if _, _, ok := KMeans2([]uint8{5, 5, 5}, rand.New(rand.NewPCG(1, 1))); ok {
		t.Error("KMeans2 of a one-intensity image: ok, want not ok")
	}
	// A Lloyd fixed point on random images: each centre is its cluster's
	// mean and every pixel is nearer its own centre.
	r := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 20; trial++ {
		img := make([]uint8, 100)
		for i := range img {
			img[i] = uint8(r.IntN(256))
		}
		assign, c, _ := KMeans2(img, rand.New(rand.NewPCG(uint64(trial), 9)))
		var n, s [2]float64
		for i, v := range img {
			k := assign[i]
			n[k]++
			s[k] += float64(v)
			if math.Abs(float64(v)-c[k]) > math.Abs(float64(v)-c[1-k]) {
				t.Fatalf("trial %d: pixel %d (%d) is nearer the other centre (%v)", trial, i, v, c)
			}
		}
		for k := range 2 {
			if math.Abs(s[k]/n[k]-c[k]) > 1e-9 {
				t.Errorf("trial %d: centre %d = %v, cluster mean %v", trial, k, c[k], s[k]/n[k])
			}
		}
	}
}

func TestKMeansInterior(t *testing.T) {
	// A bright frame around a dark 2×2 object.
	img := []uint8{
		200, 200, 200, 200,
		200, 20, 20, 200,
		200, 20, 20, 200,
		200, 200, 200, 200,
	}
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }
	inner := []uint8{0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}
	if got := KMeansMask(img, 4, 4, Interior, rng()); !bytes.Equal(got, inner) {
		t.Errorf("interior mask = %v, want %v", got, inner)
	}
	frame := make([]uint8, 16)
	for i, v := range inner {
		frame[i] = 1 - v
	}
	if got := KMeansMask(img, 4, 4, Brighter, rng()); !bytes.Equal(got, frame) {
		t.Errorf("brighter mask = %v, want %v", got, frame)
	}
}

func equalF(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// writePool writes a pool of n s×s images into a temp dir: image i is dark
// noise with a bright square whose side grows with i.
func writePool(t *testing.T, n, s int) string {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 8))
	img := make([]uint8, n*s*s)
	for i := 0; i < n; i++ {
		side := 2 + i%(s-3)
		for y := 0; y < s; y++ {
			for x := 0; x < s; x++ {
				v := r.IntN(40)
				if y >= 1 && y < 1+side && x >= 1 && x < 1+side {
					v = 180 + r.IntN(60)
				}
				img[i*s*s+y*s+x] = uint8(v)
			}
		}
	}
	labels := make([]int64, n)
	for i := range labels {
		labels[i] = int64(i % 2)
	}
	dir := filepath.Join(t.TempDir(), "pool")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "images.npy"), artifact.U8Array(img, n, s, s)); err != nil {
		t.Fatal(err)
	}
	if err := artifact.SaveNPY(filepath.Join(dir, "labels.npy"), artifact.I64Array(labels, n)); err != nil {
		t.Fatal(err)
	}
	meta := `{"task":"pool","classes":["zero","one"],"source":"test","per_class":3}`
	if err := os.WriteFile(filepath.Join(dir, "meta.json"), []byte(meta), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runKind builds kind with params (a YAML-free stand-in: the params struct
// set by set) and runs it on the pool.
func runKind(t *testing.T, k *nodes.Kind, build nodes.Build, set func(p any), pool string) (string, error) {
	t.Helper()
	var p any
	if k.Params != nil {
		p = k.Params()
		if set != nil {
			set(p)
		}
	}
	n, err := k.New(build, p)
	if err != nil {
		return "", err
	}
	out := t.TempDir()
	err = n.Run(context.Background(), &nodes.Env{Inputs: map[string][]string{"pool": {pool}}, OutDir: out, TempDir: t.TempDir()})
	return out, err
}

func TestKindsEndToEnd(t *testing.T) {
	pool := writePool(t, 6, 8)
	p, err := format.LoadPool(pool)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*nodes.Kind{ThresholdKind(), OtsuKind(), KMeansKind()} {
		t.Run(k.Name, func(t *testing.T) {
			out, err := runKind(t, k, nodes.Build{}, nil, pool)
			if err != nil {
				t.Fatal(err)
			}
			m, err := format.LoadMasks(out)
			if err != nil {
				t.Fatal(err)
			}
			if m.N != 6 || m.H != 8 || m.W != 8 || m.Meta.Annotator != k.Name || m.Meta.Task != format.TypeMasks {
				t.Fatalf("masks %dx%dx%d meta %+v", m.N, m.H, m.W, m.Meta)
			}
			// The bright squares (≥180) over dark noise (<40) separate
			// cleanly with every annotator.
			for i, v := range p.Images {
				if want := uint8(0); v >= 180 {
					want = 1
					if m.Masks[i] != want {
						t.Fatalf("pixel %d (value %d): mask %d, want %d", i, v, m.Masks[i], want)
					}
				} else if m.Masks[i] != want {
					t.Fatalf("pixel %d (value %d): mask %d, want %d", i, v, m.Masks[i], want)
				}
			}
			if _, err := os.Stat(filepath.Join(out, "preview.png")); err != nil {
				t.Error(err)
			}
			again, err := runKind(t, k, nodes.Build{}, nil, pool)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range outputs {
				a, _ := os.ReadFile(filepath.Join(out, f))
				b, _ := os.ReadFile(filepath.Join(again, f))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs between two runs", f)
				}
			}
		})
	}
}

func TestBadParams(t *testing.T) {
	for _, tc := range []struct {
		k    *nodes.Kind
		set  func(p any)
		want string
	}{
		{ThresholdKind(), func(p any) { p.(*ThresholdParams).Level = 300 }, "level 300"},
		{KMeansKind(), func(p any) { p.(*KMeansParams).Foreground = "darker" }, `foreground "darker"`},
		{SaliencyKind(), func(p any) {}, "model is required"},
		{SaliencyKind(), func(p any) { s := p.(*SaliencyParams); s.Model = "m.onnx"; s.Std = []float64{1, 0, 1} }, "std"},
		{SaliencyKind(), func(p any) { s := p.(*SaliencyParams); s.Model = "m.onnx"; s.Normalize = "sigmoid" }, `normalize "sigmoid"`},
	} {
		p := tc.k.Params()
		tc.set(p)
		if _, err := tc.k.New(nodes.Build{}, p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New error = %v, want one saying %q", tc.k.Name, err, tc.want)
		}
	}
}

func TestMasksMetaJSON(t *testing.T) {
	pool := writePool(t, 2, 8)
	out, err := runKind(t, ThresholdKind(), nodes.Build{}, func(p any) { p.(*ThresholdParams).Level = 100 }, pool)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	if err := json.Unmarshal(b, &meta); err != nil {
		t.Fatal(err)
	}
	if meta["annotator"] != "threshold" || meta["params"].(map[string]any)["level"] != 100.0 {
		t.Errorf("meta.json = %s", b)
	}
	// Level 255 marks nothing: both masks are empty.
	out, err = runKind(t, ThresholdKind(), nodes.Build{}, func(p any) { p.(*ThresholdParams).Level = 255 }, pool)
	if err != nil {
		t.Fatal(err)
	}
	var met format.MasksMetrics
	if err := readJSON(filepath.Join(out, "metrics.json"), &met); err != nil {
		t.Fatal(err)
	}
	if met != (format.MasksMetrics{Items: 2, Foreground: 0, Empty: 2}) {
		t.Errorf("metrics.json = %+v, want 2 items, both empty", met)
	}
	// Level 0 marks every pixel but the zeros: the foreground is their share.
	p, _ := format.LoadPool(pool)
	out, err = runKind(t, ThresholdKind(), nodes.Build{}, func(p any) { p.(*ThresholdParams).Level = 0 }, pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := readJSON(filepath.Join(out, "metrics.json"), &met); err != nil {
		t.Fatal(err)
	}
	nonzero := 0
	for _, v := range p.Images {
		if v > 0 {
			nonzero++
		}
	}
	if want := float64(nonzero) / float64(len(p.Images)); met.Items != 2 || met.Empty != 0 || math.Abs(met.Foreground-want) > 1e-12 {
		t.Errorf("metrics.json = %+v, want foreground %v", met, want)
	}
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
