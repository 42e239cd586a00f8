//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

//go:noescape
func biasSum8AVX512(gp *float32, chStride, imgStride, s, n int, acc *float64)

var hasAVX512 = cpu.X86.HasAVX512F

// biasSum8 sets acc[j] to biasSumChannel's sum of channel k+j, j < 8, of
// g [n, c, s], eight channels at once, and reports whether it could: it
// needs AVX-512, and s a multiple of 8.
func biasSum8(acc *[8]float64, g []float32, n, c, s, k int) bool {
	if !hasAVX512 || s < 8 || s%8 != 0 || n < 1 || k+8 > c {
		return false
	}
	_ = g[((n-1)*c+k+7)*s+s-1]
	biasSum8AVX512(&g[k*s], s, c*s, s, n, &acc[0])
	return true
}
