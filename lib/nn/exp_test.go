package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulps is the distance between two float32 of the same sign in units in
// the last place.
func ulps(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

// TestExp32Accuracy checks exp32 against the float64 exponential rounded to
// float32 on every float32 in [−87, 0] (about 1.1 billion values, so every
// 7th is taken) and that it flushes below −87.
func TestExp32Accuracy(t *testing.T) {
	var worst int64
	var at float32
	lo := math.Float32bits(expLo)
	for b := uint32(0x80000000); b <= lo; b += 7 {
		x := math.Float32frombits(b)
		want := float32(math.Exp(float64(x)))
		if d := ulps(exp32(x), want); d > worst {
			worst, at = d, x
		}
	}
	t.Logf("max error %d ulps at x = %g", worst, at)
	if worst > 1 {
		t.Errorf("exp32 is %d ulps off at %g, documented at most 1", worst, at)
	}
	if exp32(0) != 1 {
		t.Errorf("exp32(0) = %g, want 1", exp32(0))
	}
	for _, x := range []float32{-87.0001, -100, -1e30, float32(math.Inf(-1))} {
		if got := exp32(x); got != 0 {
			t.Errorf("exp32(%g) = %g, want 0", x, got)
		}
	}
	if got := exp32(float32(math.NaN())); got == got {
		t.Errorf("exp32(NaN) = %g, want NaN", got)
	}
}

// TestExpSubBits checks that expSub (vector code where the CPU has it)
// gives exp32's bits, on random arguments across the whole range and all
// lengths around the vector width.
func TestExpSubBits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := 0; n < 70; n++ {
		z, m := make([]float32, n), make([]float32, n)
		for i := range z {
			z[i] = float32(rng.NormFloat64() * 30)
			m[i] = float32(rng.Float64() * 30)
			if rng.IntN(10) == 0 {
				m[i] = z[i]
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		expSub(got, z, m)
		expSubGo(want, z, m)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: expSub(%g − %g) = %g, exp32 %g", n, z[i], m[i], got[i], want[i])
			}
		}
	}
	// Every float32 argument in [−90, 0], in vector-sized runs.
	xs := make([]float32, 0, 1<<16)
	for b := uint32(0x80000000); b <= math.Float32bits(-90); b += 101 {
		xs = append(xs, math.Float32frombits(b))
		if len(xs) == cap(xs) {
			checkExpRun(t, xs)
			xs = xs[:0]
		}
	}
	checkExpRun(t, xs)
}

func checkExpRun(t *testing.T, xs []float32) {
	t.Helper()
	zero := make([]float32, len(xs))
	got := make([]float32, len(xs))
	expSub(got, xs, zero)
	for i, x := range xs {
		if math.Float32bits(got[i]) != math.Float32bits(exp32(x)) {
			t.Fatalf("expSub(%g) = %g, exp32 %g", x, got[i], exp32(x))
		}
	}
}
