//go:build amd64 && !purego

package nn

//go:noescape
func maxIntoAVX2(mx, z *float32, n int)

//go:noescape
func widenAddAVX2(acc *float64, x *float32, n int)

//go:noescape
func xentGradAVX2(q, t *float32, sc, ts *float64, n int)

// vecLen is the part of an n-element loop the AVX2 code takes: n rounded
// down to a multiple of 8, or none without AVX2.
func vecLen(n int) int {
	if !hasAVX2 {
		return 0
	}
	return n &^ 7
}

// maxInto is maxIntoGo, eight lanes at a time where the CPU has AVX2.
func maxInto(mx, z []float32) {
	z = z[:len(mx)]
	v := vecLen(len(mx))
	if v > 0 {
		maxIntoAVX2(&mx[0], &z[0], v)
	}
	maxIntoGo(mx[v:], z[v:])
}

// widenAdd is widenAddGo, eight lanes at a time where the CPU has AVX2.
func widenAdd(acc []float64, x []float32) {
	x = x[:len(acc)]
	v := vecLen(len(acc))
	if v > 0 {
		widenAddAVX2(&acc[0], &x[0], v)
	}
	widenAddGo(acc[v:], x[v:])
}

// xentGrad is xentGradGo, eight lanes at a time where the CPU has AVX2.
func xentGrad(q, t []float32, sc, ts []float64) {
	t, sc, ts = t[:len(q)], sc[:len(q)], ts[:len(q)]
	v := vecLen(len(q))
	if v > 0 {
		xentGradAVX2(&q[0], &t[0], &sc[0], &ts[0], v)
	}
	xentGradGo(q[v:], t[v:], sc[v:], ts[v:])
}

//go:noescape
func nonzeroMasksAVX2(m *uint8, t *float32, n int)

// nonzeroMasks sets bit j of m[i] where t[8i+j] ≠ 0, for the first
// 8·len(m) elements of t, eight at a time where the CPU has AVX2.
func nonzeroMasks(m []uint8, t []float32) {
	t = t[:8*len(m)]
	if hasAVX2 && len(m) > 0 {
		nonzeroMasksAVX2(&m[0], &t[0], len(t))
		return
	}
	nonzeroMasksGo(m, t)
}
