//go:build amd64 && !purego

package nn

//go:noescape
func addReLUAVX2(y, x *float32, b float32, n int)

//go:noescape
func reluMaskAVX2(d, y, gr *float32, n int)

// addReLU is y[i] = max(x[i] + b, 0) for i < len(y) as addReLUGo computes
// it, eight lanes at a time where the CPU has AVX2 (TestReLUVectorBits).
func addReLU(y, x []float32, b float32) {
	x = x[:len(y)]
	v := 0
	if hasAVX2 && len(y) >= 8 {
		v = len(y) &^ 7
		addReLUAVX2(&y[0], &x[0], b, v)
	}
	addReLUGo(y[v:], x[v:], b)
}

// reluMask32 is d[i] = g[i] where y[i] > 0, else 0, as reluMaskGo computes
// it, eight lanes at a time where the CPU has AVX2.
func reluMask32(d, y, g []float32) {
	g, d = g[:len(y)], d[:len(y)]
	v := 0
	if hasAVX2 && len(y) >= 8 {
		v = len(y) &^ 7
		reluMaskAVX2(&d[0], &y[0], &g[0], v)
	}
	reluMaskGo(d[v:], y[v:], g[v:])
}
