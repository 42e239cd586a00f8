package vae

import (
	"math"
	"testing"
)

func TestCholesky(t *testing.T) {
	a := []float64{4, 2, 0.4, 2, 5, 1, 0.4, 1, 3}
	l, err := cholesky(a, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		for j := range 3 {
			var s float64
			for k := range 3 {
				s += l[i*3+k] * l[j*3+k]
			}
			if math.Abs(s-a[i*3+j]) > 1e-12 || (j > i && l[i*3+j] != 0) {
				t.Fatalf("L·Lᵀ[%d,%d] = %v, want %v (L = %v)", i, j, s, a[i*3+j], l)
			}
		}
	}
	if _, err := cholesky([]float64{1, 2, 2, 1}, 2); err == nil {
		t.Error("an indefinite matrix factored without error")
	}
}

// TestPriorSample checks Mean + T·L·ε against a hand computation.
func TestPriorSample(t *testing.T) {
	p := standardPrior(2, 2)
	copy(p.Mean[2:], []float64{1, -1})
	copy(p.Chol[4:], []float64{2, 0, 1, 3})
	got := p.sample(1, []float64{0.5, -1}, 2)
	want := []float64{1 + 2*(2*0.5), -1 + 2*(1*0.5+3*-1)}
	if got[0] != want[0] || got[1] != want[1] {
		t.Errorf("sample = %v, want %v", got, want)
	}
}
