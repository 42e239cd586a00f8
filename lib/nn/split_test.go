package nn

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
)

// TestSplitGradBits checks that one pass over the union of two batches
// gives each batch's loss and gradient bit for bit as a pass over it alone,
// for every architecture, with and without weights, in float32 and float64,
// and that the model computes plain passes as before afterwards.
func TestSplitGradBits(t *testing.T) {
	cases := append(slices.Clone(bitsCases), gradCases...)
	for _, tc := range cases {
		for _, f64 := range []bool{false, true} {
			name := tc.name
			if f64 {
				name += "-f64"
			}
			t.Run(name, func(t *testing.T) {
				cfg := tc.cfg
				cfg.Seed, cfg.Float64 = 3, f64
				m := mustNew(t, cfg)
				a, b := tc, tc
				b.n = tc.n + 2 // parts of different sizes share no program with either alone
				xa, ya, wa := a.batch(1)
				xb, yb, wb := b.batch(2)
				for round := range 2 {
					la, ga, lb, gb, err := splitGrad[float64](m, xa, ya, wa, xb, yb, wb, nil, nil, nil)
					if err != nil {
						t.Fatal(err)
					}
					wantLA, wantGA, err := flatGrad[float64](m, xa, ya, wa, nil)
					if err != nil {
						t.Fatal(err)
					}
					wantLB, wantGB, err := flatGrad[float64](m, xb, yb, wb, nil)
					if err != nil {
						t.Fatal(err)
					}
					if math.Float64bits(la) != math.Float64bits(wantLA) || math.Float64bits(lb) != math.Float64bits(wantLB) {
						t.Errorf("round %d: losses %v, %v; alone %v, %v", round, la, lb, wantLA, wantLB)
					}
					for i := range ga {
						if math.Float64bits(ga[i]) != math.Float64bits(wantGA[i]) || math.Float64bits(gb[i]) != math.Float64bits(wantGB[i]) {
							t.Fatalf("round %d: gradient %d: split %v, %v; alone %v, %v", round, i, ga[i], gb[i], wantGA[i], wantGB[i])
						}
					}
					// The union alone is still the mass-weighted mean of both.
					lu, _, err := flatGrad[float64](m, slices.Concat(xa, xb), slices.Concat(ya, yb), concatWeights(wa, wb, len(ya), len(yb)), nil)
					if err != nil {
						t.Fatal(err)
					}
					ma, mb := mass(ya, wa), mass(yb, wb)
					if want := (ma*wantLA + mb*wantLB) / (ma + mb); math.Abs(lu-want) > 1e-5*math.Max(1, math.Abs(want)) {
						t.Errorf("union loss %v after a split pass, want %v", lu, want)
					}
				}
			})
		}
	}
}

func concatWeights(wa, wb []float32, na, nb int) []float32 {
	if wa == nil && wb == nil {
		return nil
	}
	one := func(w []float32, n int) []float32 {
		if w != nil {
			return w
		}
		o := make([]float32, n)
		for i := range o {
			o[i] = 1
		}
		return o
	}
	return slices.Concat(one(wa, na), one(wb, nb))
}

func mass(y []int, w []float32) float64 {
	if w == nil {
		return float64(len(y))
	}
	var s float64
	for _, v := range w {
		s += float64(v)
	}
	return s
}

// TestSplitGradErrors checks bad halves are named.
func TestSplitGradErrors(t *testing.T) {
	m := mustNew(t, Config{Arch: ArchMLP, Classes: 3, H: 2, W: 2, Hidden: []int{3}})
	x := []float32{0, 1, 0, 1}
	if _, _, _, _, err := m.SplitGrad(x, []int{0}, nil, nil, nil, nil); err == nil {
		t.Error("empty second batch accepted")
	}
	if _, _, _, _, err := m.SplitGrad(x, []int{0}, nil, x, []int{7}, nil); err == nil {
		t.Error("label out of range accepted")
	}
	if _, _, _, _, err := m.SplitGrad(x, []int{0}, nil, x, []int{0}, []float32{-1}); err == nil {
		t.Error("negative weight accepted")
	}
	// The model still works after a failed split.
	if _, _, err := m.FlatGrad(x, []int{1}, nil, nil); err != nil {
		t.Fatal(err)
	}
}

// TestSplitGradSubsetBits checks that SplitGradSubset gives the losses and
// the gradients of SplitGrad restricted to the subset bit for bit, for the
// last layers and for others, on every architecture in float32 and
// float64 and on 1 and 2 threads; that its backward pass is truncated (an
// op the subset does not need does not run); and that ReGrad after it
// gives the whole gradient as FlatGrad does.
func TestSplitGradSubsetBits(t *testing.T) {
	subsets := map[string][][]string{
		ArchFCN: {{"head.weight", "head.bias"}, {"conv4.weight", "head.weight"}, {"conv2.bias"}, {"conv1.weight", "head.bias"}},
		ArchCNN: {{"fc.weight", "fc.bias"}, {"conv2.weight"}},
		ArchMLP: {{"out.weight", "out.bias"}, {"fc2.bias"}},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range gradCases {
		for _, sub := range subsets[tc.cfg.Arch] {
			if tc.cfg.Arch == ArchMLP && len(tc.cfg.Hidden) < 2 && slices.Contains(sub, "fc2.bias") {
				continue
			}
			for _, procs := range []int{1, 2} {
				for _, f64 := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%v/procs%d/f64=%v", tc.name, sub, procs, f64), func(t *testing.T) {
						runtime.GOMAXPROCS(procs)
						cfg := tc.cfg
						cfg.Seed, cfg.Float64 = 3, f64
						m := mustNew(t, cfg)
						a, b := tc, tc
						b.n = tc.n + 1
						xa, ya, wa := a.batch(1)
						xb, yb, wb := b.batch(2)
						la, ga, lb, gb, err := splitGrad[float64](m, xa, ya, wa, xb, yb, wb, nil, nil, nil)
						if err != nil {
							t.Fatal(err)
						}
						sel, err := m.selectParams(sub)
						if err != nil {
							t.Fatal(err)
						}
						restrict := func(g []float64) []float64 {
							var out []float64
							for _, i := range sel {
								out = append(out, g[m.offsets[i]:m.offsets[i]+numel(m.specs[i].shape)]...)
							}
							return out
						}
						sla, sga, slb, sgb, err := splitGrad[float64](m, xa, ya, wa, xb, yb, wb, sub, nil, nil)
						if err != nil {
							t.Fatal(err)
						}
						sameBits(t, "first batch", sla, sga, la, restrict(ga))
						sameBits(t, "second batch", slb, sgb, lb, restrict(gb))
						// Truncated: the first layer's filter gradient, which
						// only conv1.weight needs, did not run.
						if p := m.lastSplit.p; !slices.Contains(sub, m.specs[0].name) {
							if n := len(p.skips[fmt.Sprint(sel)]); n == 0 {
								t.Errorf("no backward op left out for %v", sub)
							}
						}
						l, g, err := reGrad[float64](m, yb, nil)
						if err != nil {
							t.Fatal(err)
						}
						wl, wg, err := flatGrad[float64](m, xb, yb, nil, nil)
						if err != nil {
							t.Fatal(err)
						}
						sameBits(t, "regrad after a subset pass", l, g, wl, wg)
					})
				}
			}
		}
	}
}

// TestSplitGradSubsetSkips checks that a subset pass really leaves out
// the ops it does not need: with every skipped op's output poisoned
// before the pass, the subset's gradients still come out right.
func TestSplitGradSubsetSkips(t *testing.T) {
	cfg := Config{Arch: ArchFCN, Classes: 4, H: 8, W: 8, Channels: []int{3, 4}, Seed: 2}
	m := mustNew(t, cfg)
	tc := testCase{cfg: cfg, n: 2}
	xa, ya, _ := tc.batch(1)
	xb, yb, _ := tc.batch(2)
	sub := []string{"head.weight", "head.bias"}
	if _, _, _, _, err := m.SplitGradSubset(xa, ya, nil, xb, yb, nil, sub); err != nil {
		t.Fatal(err)
	}
	_, ga, _, gb, err := m.SplitGrad(xa, ya, nil, xb, yb, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := m.lastSplit.p
	sel, _ := m.selectParams(sub)
	skip := p.skips[fmt.Sprint(sel)]
	for _, n := range p.cost.Graph().AllNodes() {
		if sk, ok := n.Op().(skipper); ok {
			if v := sk.skipKey().v; skip[sk.skipKey()] && v != nil {
				poison(v.Data())
			}
		}
	}
	_, sga, _, sgb, err := m.SplitGradSubset(xa, ya, nil, xb, yb, nil, sub)
	if err != nil {
		t.Fatal(err)
	}
	n := len(sga)
	if !slices.Equal(sga, ga[len(ga)-n:]) || !slices.Equal(sgb, gb[len(gb)-n:]) {
		t.Errorf("subset gradients changed with the skipped ops' outputs poisoned")
	}
	if len(skip) < 8 {
		t.Errorf("only %d ops left out for the head", len(skip))
	}
	// They did not run: their outputs are still the poison.
	for k := range skip {
		if k.v == nil {
			continue
		}
		switch d := k.v.Data().(type) {
		case []float32:
			if !math.IsNaN(float64(d[0])) {
				t.Fatalf("a left-out op wrote its output")
			}
		}
	}
}

// TestSplitGradInto checks that SplitGradInto gives SplitGrad's bits in
// the vectors it is given (reused when they have room, whatever they
// held), and new ones when they are too small.
func TestSplitGradInto(t *testing.T) {
	cfg := Config{Arch: ArchMLP, Classes: 3, H: 5, W: 4, Hidden: []int{6}, Seed: 4}
	m := mustNew(t, cfg)
	bufA, bufB := make([]float32, 3, m.NumParams()+5), []float32{1}
	for seed := range uint64(3) {
		tc := testCase{cfg: cfg, n: 3, w: seed == 1}
		xa, ya, wa := tc.batch(2*seed + 1)
		xb, yb, wb := tc.batch(2*seed + 2)
		la, ga, lb, gb, err := m.SplitGrad(xa, ya, wa, xb, yb, wb)
		if err != nil {
			t.Fatal(err)
		}
		for i := range bufA[:cap(bufA)] {
			bufA[:cap(bufA)][i] = float32(math.NaN())
		}
		ia, ra, ib, rb, err := m.SplitGradInto(bufA, bufB, xa, ya, wa, xb, yb, wb)
		if err != nil {
			t.Fatal(err)
		}
		if ia != la || ib != lb || !slices.Equal(ra, ga) || !slices.Equal(rb, gb) {
			t.Fatalf("seed %d: SplitGradInto differs from SplitGrad", seed)
		}
		if &ra[0] != &bufA[:1][0] {
			t.Errorf("seed %d: a vector with room was not reused", seed)
		}
		if seed == 0 && &rb[0] == &bufB[0] {
			t.Errorf("a vector without room was written")
		}
		bufA, bufB = ra, rb
	}
}
