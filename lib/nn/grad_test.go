package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// testCase is a tiny network with a random batch.
type testCase struct {
	name string
	cfg  Config
	n    int
	w    bool // random per-pixel or per-sample weights, some of them 0
}

var gradCases = []testCase{
	{"mlp", Config{Arch: ArchMLP, Classes: 3, H: 5, W: 4, Hidden: []int{6, 4}}, 3, false},
	{"mlp-weighted", Config{Arch: ArchMLP, Classes: 3, H: 5, W: 4, Hidden: []int{6}}, 4, true},
	{"cnn", Config{Arch: ArchCNN, Classes: 3, H: 8, W: 8, Channels: []int{2, 3}}, 2, false},
	{"fcn", Config{Arch: ArchFCN, Classes: 2, H: 6, W: 8, Channels: []int{2, 3}}, 2, false},
	{"fcn-weighted", Config{Arch: ArchFCN, Classes: 2, H: 6, W: 8, Channels: []int{2, 3}}, 2, true},
}

// batch draws inputs in [0, 1], labels and (optionally) weights of which
// about a third are zero, from seed.
func (tc testCase) batch(seed uint64) (x []float32, y []int, w []float32) {
	r := rand.New(rand.NewPCG(seed, 1))
	cfg := tc.cfg.withDefaults()
	x = make([]float32, tc.n*cfg.H*cfg.W)
	for i := range x {
		x[i] = r.Float32()
	}
	ny := tc.n
	if cfg.Segmentation() {
		ny *= cfg.H * cfg.W
	}
	y = make([]int, ny)
	for i := range y {
		y[i] = r.IntN(cfg.Outputs())
	}
	if tc.w {
		w = make([]float32, ny)
		for i := range w {
			if r.IntN(3) > 0 {
				w[i] = r.Float32()
			}
		}
	}
	return x, y, w
}

// TestGradientFiniteDifferences checks every component of the flat gradient
// of each network (float64) against central differences of Forward.
func TestGradientFiniteDifferences(t *testing.T) {
	for _, tc := range gradCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Float64 = true
			cfg.Seed = 7
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			// Random biases too, so that no unit sits at a ReLU kink.
			p := m.FlatParams64()
			r := rand.New(rand.NewPCG(3, 4))
			for _, prm := range m.Params() {
				_ = prm
			}
			for i := range p {
				p[i] += 0.1 * r.NormFloat64()
			}
			if err := m.SetFlatParams64(p); err != nil {
				t.Fatal(err)
			}
			x, y, w := tc.batch(11)
			loss, g, err := m.FlatGrad64(x, y, w, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(g) != m.NumParams() {
				t.Fatalf("gradient has %d values, want %d", len(g), m.NumParams())
			}
			l2, err := m.Forward(x, y, w)
			if err != nil {
				t.Fatal(err)
			}
			if l2 != loss {
				t.Errorf("Forward = %v, FlatGrad loss = %v", l2, loss)
			}
			const h = 1e-6
			fd := make([]float64, len(p))
			for i := range p {
				orig := p[i]
				p[i] = orig + h
				m.SetFlatParams64(p)
				lp, err := m.Forward(x, y, w)
				if err != nil {
					t.Fatal(err)
				}
				p[i] = orig - h
				m.SetFlatParams64(p)
				lm, _ := m.Forward(x, y, w)
				p[i] = orig
				fd[i] = (lp - lm) / (2 * h)
			}
			m.SetFlatParams64(p)
			var diff, norm float64
			worst, worstAt := 0.0, -1
			for i := range g {
				d := math.Abs(g[i] - fd[i])
				diff += d * d
				norm += math.Max(g[i]*g[i], fd[i]*fd[i])
				if rel := d / math.Max(1e-6, math.Abs(g[i])+math.Abs(fd[i])); rel > worst {
					worst, worstAt = rel, i
				}
			}
			rel := math.Sqrt(diff / norm)
			t.Logf("%d params, loss %.6f, |g| %.4g, relative error %.3g, worst element %d: %.3g (g %.6g fd %.6g)",
				len(g), loss, math.Sqrt(norm), rel, worstAt, worst, g[worstAt], fd[worstAt])
			if rel > 1e-4 || worst > 1e-4 {
				t.Errorf("gradient relative error %.3g (worst element %.3g), want < 1e-4", rel, worst)
			}
			if norm == 0 {
				t.Error("gradient is zero")
			}
		})
	}
}
