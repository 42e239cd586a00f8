//go:build amd64 && !purego

package bsgal

import "golang.org/x/sys/cpu"

var hasAVX2 = cpu.X86.HasAVX2

//go:noescape
func nonFiniteAVX2(x *float32, n int) bool

// nonFinite is nonFiniteGo eight entries at a time where the CPU has AVX2.
func nonFinite(x []float32) bool {
	v := 0
	if hasAVX2 && len(x) >= 8 {
		v = len(x) &^ 7
		if nonFiniteAVX2(&x[0], v) {
			return true
		}
	}
	return nonFiniteGo(x[v:])
}

//go:noescape
func momentumScoreAVX2(c *float64, gr, y *float32, n int, m, k float64, l *lanes)

// momentumScore is momentumScoreGo four entries at a time where the CPU
// has AVX2, with the same bits: each lane of the vector code is one of
// the lanes' chains, and every product and sum rounds as the scalar one
// (no fused multiply-add; TestMomentumScoreVectorBits).
func momentumScore(cc []float64, g, y []float32, m, k float64, l *lanes) {
	if hasAVX2 && len(cc) >= 4 {
		momentumScoreAVX2(&cc[0], &g[0], &y[0], len(cc), m, k, l)
		return
	}
	momentumScoreGo(cc, g, y, m, k, l)
}
