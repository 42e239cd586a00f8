package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// pastedWeights returns per-pixel weights of n images of h×w pixels that
// are 1 on a few random rectangles (the pixels of pasted instances) and 0
// elsewhere, as BSGAL's paste proposal scores a scene.
func pastedWeights(r *rand.Rand, n, h, w int) []float32 {
	out := make([]float32, n*h*w)
	for i := range n {
		for range 1 + r.IntN(3) {
			y0, x0 := r.IntN(h), r.IntN(w)
			y1, x1 := min(h, y0+1+r.IntN(h/2+1)), min(w, x0+1+r.IntN(w/2+1))
			for y := y0; y < y1; y++ {
				for x := x0; x < x1; x++ {
					out[(i*h+y)*w+x] = 1
				}
			}
		}
	}
	return out
}

// TestReGradBits checks that ReGrad, reusing a SplitGrad's activations of
// the second batch, gives that batch's loss and gradient under other
// targets bit for bit as FlatGrad does, on 1 and 2 threads: for the fcn
// with the paste proposal's targets (scored on the pasted pixels, trained
// on all pixels, and on other weights), and for the classifiers; and that
// the split pass's own results are those of FlatGrad.
func TestReGradBits(t *testing.T) {
	type regradCase struct {
		name  string
		cfg   Config
		na    int
		nb    int
		paste bool // second batch: pasted-pixel weights, then all pixels
	}
	cases := []regradCase{
		{"fcn-paste", Config{Arch: ArchFCN, Classes: 5, H: 16, W: 16, Channels: []int{4, 6}}, 3, 5, true},
		{"fcn-32-paste", Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32}, 4, 8, true},
		{"fcn-weighted", Config{Arch: ArchFCN, Classes: 2, H: 6, W: 8, Channels: []int{2, 3}}, 2, 3, false},
		{"cnn", Config{Arch: ArchCNN, Classes: 3, H: 8, W: 8, Channels: []int{2, 3}}, 2, 4, false},
		{"mlp", Config{Arch: ArchMLP, Classes: 3, H: 5, W: 4, Hidden: []int{6, 4}}, 3, 2, false},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range cases {
		for _, procs := range []int{1, 2} {
			for _, f64 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/procs%d/f64=%v", tc.name, procs, f64), func(t *testing.T) {
					runtime.GOMAXPROCS(procs)
					cfg := tc.cfg
					cfg.Seed, cfg.Float64 = 5, f64
					m := mustNew(t, cfg)
					cfg = cfg.withDefaults()
					xa, ya, wa := testCase{cfg: cfg, n: tc.na, w: true}.batch(1)
					xb, yb, wb := testCase{cfg: cfg, n: tc.nb, w: true}.batch(2)
					r := rand.New(rand.NewPCG(3, 3))
					// The second batch's targets: scored with wb, then
					// regraded under the others in turn.
					targets := []struct {
						y []int
						w []float32
					}{{yb, nil}}
					if tc.paste {
						wb = pastedWeights(r, tc.nb, cfg.H, cfg.W)
					}
					_, y2, w2 := testCase{cfg: cfg, n: tc.nb, w: true}.batch(3)
					targets = append(targets, struct {
						y []int
						w []float32
					}{y2, w2})
					for round := range 2 {
						la, ga, lb, gb, err := splitGrad[float64](m, xa, ya, wa, xb, yb, wb, nil, nil, nil)
						if err != nil {
							t.Fatal(err)
						}
						for k, tg := range targets {
							// With the input poisoned, only the gradient of
							// the first layer's weights (which reads it)
							// may change: the forward pass is not run again.
							x := m.lastSplit.p.xT
							poison(x.Data())
							lp, gp, err := reGrad[float64](m, tg.y, tg.w)
							if err != nil {
								t.Fatal(err)
							}
							first := numel(m.specs[0].shape)
							feedX(x, 0, xa)
							feedX(x, len(xa), xb)
							l, g, err := reGrad[float64](m, tg.y, tg.w)
							if err != nil {
								t.Fatal(err)
							}
							// Another pass in between ends the reuse, so
							// the checks run after all of them.
							defer func() {
								wl, wg, err := flatGrad[float64](m, xb, tg.y, tg.w, nil)
								if err != nil {
									t.Fatal(err)
								}
								sameBits(t, fmt.Sprintf("round %d target %d", round, k), l, g, wl, wg)
								sameBits(t, fmt.Sprintf("round %d target %d, input poisoned", round, k), lp, gp[first:], wl, wg[first:])
							}()
						}
						defer func() {
							wl, wg, err := flatGrad[float64](m, xa, ya, wa, nil)
							if err != nil {
								t.Fatal(err)
							}
							sameBits(t, fmt.Sprintf("round %d first batch", round), la, ga, wl, wg)
							if wl, wg, err = flatGrad[float64](m, xb, yb, wb, nil); err != nil {
								t.Fatal(err)
							}
							sameBits(t, fmt.Sprintf("round %d second batch", round), lb, gb, wl, wg)
						}()
					}
				})
			}
		}
	}
}

// poison overwrites a float32 or float64 slice with NaN.
func poison(d any) {
	switch d := d.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(math.NaN())
		}
	case []float64:
		for i := range d {
			d[i] = math.NaN()
		}
	}
}

// sameBits fails unless the losses and gradients are equal bit for bit.
func sameBits(t *testing.T, what string, l float64, g []float64, wl float64, wg []float64) {
	t.Helper()
	if math.Float64bits(l) != math.Float64bits(wl) {
		t.Errorf("%s: loss %v, FlatGrad's %v", what, l, wl)
	}
	if len(g) != len(wg) {
		t.Fatalf("%s: %d gradient values, FlatGrad's %d", what, len(g), len(wg))
	}
	for i := range g {
		if math.Float64bits(g[i]) != math.Float64bits(wg[i]) {
			t.Fatalf("%s: gradient %d is %v, FlatGrad's %v", what, i, g[i], wg[i])
		}
	}
}

// TestReGradFloat32 checks the public float32 ReGrad against FlatGrad on
// the fcn at the experiments' size, and that the model trains as before
// after it.
func TestReGradFloat32(t *testing.T) {
	cfg := Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32, Seed: 9}
	m := mustNew(t, cfg)
	xa, ya, _ := testCase{cfg: cfg, n: 4}.batch(1)
	xb, yb, _ := testCase{cfg: cfg, n: 6}.batch(2)
	wb := pastedWeights(rand.New(rand.NewPCG(4, 4)), 6, 32, 32)
	if _, _, _, _, err := m.SplitGrad(xa, ya, nil, xb, yb, wb); err != nil {
		t.Fatal(err)
	}
	l, g, err := m.ReGrad(yb, nil)
	if err != nil {
		t.Fatal(err)
	}
	wl, wg, err := m.FlatGrad(xb, yb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(l) != math.Float64bits(wl) {
		t.Errorf("loss %v, FlatGrad's %v", l, wl)
	}
	for i := range g {
		if math.Float32bits(g[i]) != math.Float32bits(wg[i]) {
			t.Fatalf("gradient %d is %v, FlatGrad's %v", i, g[i], wg[i])
		}
	}
	// A plain pass of the split program's size computes afresh.
	u := slices.Concat(xa, xb)
	uy := slices.Concat(ya, yb)
	l1, g1, err := m.FlatGrad(u, uy, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2 := mustNew(t, cfg)
	l2, g2, err := m2.FlatGrad(u, uy, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if math.Float64bits(l1) != math.Float64bits(l2) || !slices.Equal(g1, g2) {
		t.Errorf("a pass after ReGrad differs from a fresh model's: loss %v, want %v", l1, l2)
	}
}

// TestReGradErrors checks that ReGrad refuses to reuse what is no longer
// there: before any split pass, after another pass or a weight change, and
// with bad targets (after which it still works).
func TestReGradErrors(t *testing.T) {
	cfg := Config{Arch: ArchFCN, Classes: 2, H: 6, W: 8, Channels: []int{2, 3}, Seed: 1}
	m := mustNew(t, cfg)
	xa, ya, _ := testCase{cfg: cfg, n: 2}.batch(1)
	xb, yb, wb := testCase{cfg: cfg, n: 3, w: true}.batch(2)
	if _, _, err := m.ReGrad(yb, nil); !errors.Is(err, errNoSplitPass) {
		t.Errorf("before any split pass: %v", err)
	}
	split := func() {
		t.Helper()
		if _, _, _, _, err := m.SplitGrad(xa, ya, nil, xb, yb, wb); err != nil {
			t.Fatal(err)
		}
	}
	for name, between := range map[string]func() error{
		"flat grad": func() error { _, _, err := m.FlatGrad(xa, ya, nil, nil); return err },
		"forward":   func() error { _, err := m.Forward(xb, yb, nil); return err },
		"predict":   func() error { _, err := m.Predict(xb); return err },
		"step":      func() error { return m.Step(&SGD{}, make([]float32, m.NumParams()), 0.1) },
		"set":       func() error { return m.SetFlatParams(m.FlatParams()) },
		"set64":     func() error { return m.SetFlatParams64(m.FlatParams64()) },
		"failed split": func() error {
			if _, _, _, _, err := m.SplitGrad(xa, ya, nil, xb, yb[1:], nil); err == nil {
				return errors.New("bad split accepted")
			}
			return nil
		},
	} {
		split()
		if err := between(); err != nil {
			t.Fatal(name, err)
		}
		if _, _, err := m.ReGrad(yb, nil); !errors.Is(err, errNoSplitPass) {
			t.Errorf("after %s: %v", name, err)
		}
	}
	split()
	if _, _, err := m.ReGrad(yb[1:], nil); err == nil {
		t.Error("too few labels accepted")
	}
	if _, _, err := m.ReGrad(yb, []float32{1}); err == nil {
		t.Error("too few weights accepted")
	}
	bad := slices.Clone(yb)
	bad[0] = 9
	if _, _, err := m.ReGrad(bad, nil); err == nil {
		t.Error("label out of range accepted")
	}
	l, g, err := m.ReGrad(yb, nil)
	if err != nil {
		t.Fatal(err)
	}
	wl, wg, err := m.FlatGrad(xb, yb, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l != wl || !slices.Equal(g, wg) {
		t.Errorf("after refused targets: loss %v, FlatGrad's %v", l, wl)
	}
}
