package nn

import (
	"math"
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
					la, ga, lb, gb, err := splitGrad[float64](m, xa, ya, wa, xb, yb, wb)
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
