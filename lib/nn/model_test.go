package nn

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func mustNew(t *testing.T, cfg Config) *Model {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDeterminism: equal seeds give bit-identical weights and gradients,
// different seeds do not, and gradients never accumulate across calls.
func TestDeterminism(t *testing.T) {
	for _, tc := range gradCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Seed = 42
			a, b := mustNew(t, cfg), mustNew(t, cfg)
			if !slices.Equal(a.FlatParams(), b.FlatParams()) {
				t.Fatal("same seed gave different weights")
			}
			cfg.Seed = 43
			if c := mustNew(t, cfg); slices.Equal(a.FlatParams(), c.FlatParams()) {
				t.Error("different seeds gave equal weights")
			}
			x1, y1, w1 := tc.batch(1)
			x2, y2, w2 := tc.batch(2)
			before := a.FlatParams()
			la1, ga1, err := a.FlatGrad(x1, y1, w1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(before, a.FlatParams()) {
				t.Error("FlatGrad changed the weights")
			}
			la1again, ga1again, _ := a.FlatGrad(x1, y1, w1, nil)
			if la1again != la1 || !slices.Equal(ga1, ga1again) {
				t.Error("the same batch twice gave different gradients (accumulation?)")
			}
			_, ga2, _ := a.FlatGrad(x2, y2, w2, nil)
			_, gb2, _ := b.FlatGrad(x2, y2, w2, nil)
			if !slices.Equal(ga2, gb2) {
				t.Error("gradient of batch 2 depends on an earlier batch 1")
			}
			if slices.Equal(ga1, ga2) {
				t.Error("different batches gave equal gradients")
			}
		})
	}
}

// TestLossMatchesPredict recomputes the weighted loss from Predict's
// probabilities: −Σ w·log p[label] / Σ w.
func TestLossMatchesPredict(t *testing.T) {
	for _, tc := range gradCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Float64 = true
			m := mustNew(t, cfg)
			x, y, w := tc.batch(5)
			loss, err := m.Forward(x, y, w)
			if err != nil {
				t.Fatal(err)
			}
			probs, err := m.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			c := m.Config().Outputs()
			s := len(y) / tc.n
			if len(probs) != tc.n*c*s {
				t.Fatalf("Predict gave %d values, want %d", len(probs), tc.n*c*s)
			}
			var num, den float64
			for j, lab := range y {
				wj := 1.0
				if w != nil {
					wj = float64(w[j])
				}
				i, px := j/s, j%s
				num -= wj * math.Log(float64(probs[(i*c+lab)*s+px]))
				den += wj
			}
			if want := num / den; math.Abs(loss-want) > 1e-6*math.Max(1, want) {
				t.Errorf("loss = %v, recomputed from probabilities %v", loss, want)
			}
			// Probabilities sum to 1 over the class axis.
			for i := 0; i < tc.n; i++ {
				for px := 0; px < s; px++ {
					var sum float64
					for k := 0; k < c; k++ {
						sum += float64(probs[(i*c+k)*s+px])
					}
					if math.Abs(sum-1) > 1e-5 {
						t.Fatalf("probabilities at image %d pixel %d sum to %v", i, px, sum)
					}
				}
			}
		})
	}
}

// TestZeroWeights: a batch whose weights are all zero has zero loss and
// gradient (nothing pasted, nothing to learn from).
func TestZeroWeights(t *testing.T) {
	tc := gradCases[3]
	m := mustNew(t, tc.cfg)
	x, y, _ := tc.batch(1)
	loss, g, err := m.FlatGrad(x, y, make([]float32, len(y)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if loss != 0 || slices.ContainsFunc(g, func(v float32) bool { return v != 0 }) {
		t.Errorf("zero weights gave loss %v and a nonzero gradient", loss)
	}
}

// TestSubset: the gradient of a subset is the matching slice of the full one.
func TestSubset(t *testing.T) {
	tc := gradCases[2]
	m := mustNew(t, tc.cfg)
	x, y, w := tc.batch(1)
	_, full, err := m.FlatGrad(x, y, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []float32
	off := 0
	subset := []string{"fc.bias", "conv2.weight"} // any order; result is in model order
	for _, p := range m.Params() {
		n := len(p.F32)
		if slices.Contains(subset, p.Name) {
			want = append(want, full[off:off+n]...)
		}
		off += n
	}
	_, got, err := m.FlatGrad(x, y, w, subset)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("subset gradient has %d values, differs from the slices of the full one (%d)", len(got), len(want))
	}
	if n, _ := m.SubsetSize(subset); n != len(want) {
		t.Errorf("SubsetSize = %d, want %d", n, len(want))
	}
	if _, _, err := m.FlatGrad(x, y, w, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown parameter: err = %v", err)
	}
}

func TestBadInputs(t *testing.T) {
	m := mustNew(t, gradCases[0].cfg)
	x, y, _ := gradCases[0].batch(1)
	for _, c := range []struct {
		name string
		x    []float32
		y    []int
		w    []float32
		want string
	}{
		{"ragged input", x[1:], y, nil, "not a positive multiple"},
		{"label count", x, y[1:], nil, "labels"},
		{"label range", x, []int{0, 1, 3}, nil, "outside [0, 3)"},
		{"weight count", x, y, []float32{1}, "weights"},
		{"negative weight", x, y, []float32{1, -1, 1}, "negative"},
	} {
		if _, err := m.Forward(c.x, c.y, c.w); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Arch: "rnn", Classes: 2, H: 4, W: 4}, `unknown arch "rnn"`},
		{Config{Arch: ArchMLP, Classes: 0, H: 4, W: 4}, "classes"},
		{Config{Arch: ArchCNN, Classes: 2, H: 6, W: 8}, "divisible by 4"},
		{Config{Arch: ArchFCN, Classes: 2, H: 5, W: 8}, "even"},
		{Config{Arch: ArchFCN, Classes: 2, H: 4, W: 4, Channels: []int{3}}, "2 channels"},
		{Config{Arch: ArchMLP, Classes: 2, H: 4, W: 4, Hidden: []int{0}}, "positive"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) err = %v, want it to mention %q", c.cfg, err, c.want)
		}
	}
}

func dirBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// TestSaveLoad: a loaded model predicts exactly as the saved one, and equal
// seeds save to identical bytes.
func TestSaveLoad(t *testing.T) {
	for _, tc := range gradCases {
		for _, f64 := range []bool{false, true} {
			cfg := tc.cfg
			cfg.Seed, cfg.Float64 = 9, f64
			m := mustNew(t, cfg)
			// Move the weights off their initial values first.
			x, y, w := tc.batch(1)
			_, g, err := m.FlatGrad(x, y, w, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Step(&SGD{}, g, 0.1); err != nil {
				t.Fatal(err)
			}
			d1, d2 := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
			if err := m.Save(d1); err != nil {
				t.Fatal(err)
			}
			l, err := Load(d1)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.FlatParams64(), m.FlatParams64()) {
				t.Errorf("%s f64=%v: loaded weights differ", tc.name, f64)
			}
			pm, _ := m.Predict(x)
			pl, _ := l.Predict(x)
			if !slices.Equal(pm, pl) {
				t.Errorf("%s f64=%v: loaded model predicts differently", tc.name, f64)
			}
			if err := l.Save(d2); err != nil {
				t.Fatal(err)
			}
			b1, b2 := dirBytes(t, d1), dirBytes(t, d2)
			if len(b1) != len(m.Params())+1 {
				t.Errorf("%s: saved %d files, want %d", tc.name, len(b1), len(m.Params())+1)
			}
			for name, b := range b1 {
				if !bytes.Equal(b, b2[name]) {
					t.Errorf("%s f64=%v: %s differs after a load/save round trip", tc.name, f64, name)
				}
			}
		}
	}
	// A manifest that does not match the files is rejected.
	m := mustNew(t, gradCases[0].cfg)
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(dir, "out.bias.npy"))
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), `"out.bias"`) {
		t.Errorf("missing file: err = %v", err)
	}
}

// TestTargetCleared: a program's target, cleared element by element where
// the previous batch wrote it (or whole when that list was given up), holds
// nothing of earlier batches: after FlatGrad and SplitGrad calls on other
// labels, a batch's gradient has the bits of a fresh model's.
func TestTargetCleared(t *testing.T) {
	for _, tc := range []testCase{
		{"fcn-6-outputs", Config{Arch: ArchFCN, Classes: 5, H: 6, W: 8, Channels: []int{2, 3}, Seed: 3}, 4, true},
		{"fcn-3-outputs", Config{Arch: ArchFCN, Classes: 2, H: 6, W: 8, Channels: []int{2, 3}, Seed: 3}, 4, false},
		{"mlp-10", Config{Arch: ArchMLP, Classes: 10, H: 5, W: 4, Hidden: []int{6}, Seed: 3}, 4, true},
	} {
		x1, y1, w1 := tc.batch(1)
		x2, y2, w2 := tc.batch(2)
		m := mustNew(t, tc.cfg)
		if _, _, err := m.FlatGrad(x1, y1, w1, nil); err != nil {
			t.Fatal(err)
		}
		h, ny := len(x1)/2, len(y1)/2
		var wa, wb []float32
		if w1 != nil {
			wa, wb = w1[:ny], w2[ny:]
		}
		if _, _, _, _, err := m.SplitGrad(x1[:h], y1[:ny], wa, x2[h:], y2[ny:], wb); err != nil {
			t.Fatal(err)
		}
		l, g, err := m.FlatGrad(x2, y2, w2, nil)
		if err != nil {
			t.Fatal(err)
		}
		lf, gf, err := mustNew(t, tc.cfg).FlatGrad(x2, y2, w2, nil)
		if err != nil {
			t.Fatal(err)
		}
		if l != lf || !slices.Equal(g, gf) {
			t.Errorf("%s: the gradient depends on the batches before", tc.name)
		}
	}
}
