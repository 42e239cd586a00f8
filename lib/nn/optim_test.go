package nn

import (
	"math"
	"testing"
)

// TestSGD follows two steps worked by hand:
// p=[1,−2], g=[0.5,0.25], lr 0.1, μ 0.9, wd 0.01.
// Step 1: g'=[0.51,0.23], v=g', p=[0.949,−2.023].
// Step 2: g'=[0.50949,0.22977], v=[0.96849,0.43677], p=[0.852151,−2.066677].
func TestSGD(t *testing.T) {
	p := []float32{1, -2}
	g := []float32{0.5, 0.25}
	o := &SGD{Momentum: 0.9, WeightDecay: 0.01}
	for step, want := range [][]float64{{0.949, -2.023}, {0.852151, -2.066677}} {
		o.Step(p, g, 0.1)
		for i := range p {
			if math.Abs(float64(p[i])-want[i]) > 1e-6 {
				t.Errorf("step %d: p[%d] = %v, want %v", step+1, i, p[i], want[i])
			}
		}
	}
	q := []float32{1, -2}
	(&SGD{}).Step(q, g, 0.5) // plain: p − lr·g
	if q[0] != 0.75 || q[1] != -2.125 {
		t.Errorf("plain SGD gave %v, want [0.75 -2.125]", q)
	}
}

// TestAdamW checks two steps against values computed independently (Python,
// PyTorch's AdamW formula): p=1, lr 0.1, wd 0.1, g=0.5 then −0.25.
func TestAdamW(t *testing.T) {
	p := []float32{1}
	o := &AdamW{WeightDecay: 0.1}
	for i, c := range []struct{ g, want float64 }{{0.5, 0.890000002}, {-0.25, 0.8544662986878463}} {
		o.Step(p, []float32{float32(c.g)}, 0.1)
		if math.Abs(float64(p[0])-c.want) > 1e-6 {
			t.Errorf("step %d: p = %v, want %v", i+1, p[0], c.want)
		}
	}
}

func TestCosineLR(t *testing.T) {
	for _, c := range []struct {
		warmup, total, it int
		want              float64
	}{
		{4, 14, 0, 0.25},
		{4, 14, 3, 1},
		{4, 14, 4, 1},
		{4, 14, 9, 0.5},
		{4, 14, 14, 0},
		{0, 10, 5, 0.5},
		{0, 10, 0, 1},
		{10, 10, 20, 1},
	} {
		if got := CosineLR(1, c.warmup, c.total, c.it); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("CosineLR(1, %d, %d, %d) = %v, want %v", c.warmup, c.total, c.it, got, c.want)
		}
	}
}
