//go:build amd64 && !purego

package nn

//go:noescape
func expSubAVX2(dst, z, m *float32, n int)

// expSub is dst[i] = exp32(z[i] − m[i]) for i < len(dst), eight at a time
// where the CPU has AVX2 (same bits: TestExpSubBits).
func expSub(dst, z, m []float32) {
	z, m = z[:len(dst)], m[:len(dst)]
	v := 0
	if hasAVX2 && len(dst) >= 8 {
		v = len(dst) &^ 7
		expSubAVX2(&dst[0], &z[0], &m[0], v)
	}
	expSubGo(dst[v:], z[v:], m[v:])
}
