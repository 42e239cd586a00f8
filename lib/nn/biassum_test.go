package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestBiasSum8Bits: the eight-channel bias gradient sum gives the bits of
// the scalar one (biasSumChannel) for every channel, for image counts on
// both sides of its groups of four, with values of very different
// magnitudes (so that the order of the additions shows) and zeros of both
// signs.
func TestBiasSum8Bits(t *testing.T) {
	if !hasAVX512 {
		t.Skip("no AVX-512 on this CPU: biasSum8 is not used")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 3, 4, 5, 8, 9} {
		for _, s := range []int{8, 16, 40} {
			for _, c := range []int{8, 11, 21} {
				g := make([]float32, n*c*s)
				for i := range g {
					switch r.IntN(8) {
					case 0:
						g[i] = float32(math.Copysign(0, -1))
					case 1:
						g[i] = 0
					default:
						g[i] = float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(12)-6)))
					}
				}
				for k := 0; k+8 <= c; k++ {
					var acc [8]float64
					if !biasSum8(&acc, g, n, c, s, k) {
						t.Fatalf("n %d s %d c %d k %d: biasSum8 refused", n, s, c, k)
					}
					for j, v := range acc {
						want := biasSumChannel(g, n, c, s, k+j)
						if math.Float64bits(v) != math.Float64bits(want) {
							t.Fatalf("n %d s %d c %d channel %d: %v, want %v", n, s, c, k+j, v, want)
						}
					}
				}
			}
		}
	}
	var acc [8]float64
	if biasSum8(&acc, make([]float32, 2*8*12), 2, 8, 12, 0) {
		t.Error("biasSum8 took planes of 12, not a multiple of 8")
	}
}
