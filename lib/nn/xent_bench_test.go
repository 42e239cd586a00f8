package nn

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkXent is the softmax cross-entropy of the 64×64 FCN's step
// (batch 32, 20 classes, one-hot pixel targets): the forward pass and its
// gradient.
func BenchmarkXent(b *testing.B) {
	n, c, s := 32, 20, 64*64
	rng := rand.New(rand.NewPCG(1, 2))
	z := make([]float32, n*c*s)
	t := make([]float32, n*c*s)
	for i := range z {
		z[i] = float32(rng.NormFloat64() * 3)
	}
	for i := 0; i < n; i++ {
		for p := 0; p < s; p++ {
			t[(i*c+rng.IntN(c))*s+p] = 1.0 / float32(n*s)
		}
	}
	prob := make([]float32, len(z))
	dz := make([]float32, len(z))
	cc := &xentCache{}
	b.ResetTimer()
	for range b.N {
		xentForward(prob, z, t, n, c, s, n, 0, cc)
		xentBackward(dz, prob, 1)
	}
}
