//go:build amd64 && !purego

package nn

//go:noescape
func pool2FwdAVX2(y, r0, r1 *float32, n int)

//go:noescape
func pool2BwdAVX2(d0, d1, r0, r1, gy *float32, n int)

// pool2Rows32 pools the first windows of the row pair r0, r1 eight at a
// time where the CPU has AVX2, as pool2Windows does: into y when it is not
// nil, and gy's gradient into the row pair d0, d1 when they are not nil.
// It returns the number of windows done (a multiple of 8, at most
// len(r0)/2); pool2Windows does the rest.
func pool2Rows32(y, d0, d1, r0, r1, gy []float32) int {
	n := (len(r0) / 2) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1]
	if y != nil {
		_ = y[n-1]
		pool2FwdAVX2(&y[0], &r0[0], &r1[0], n)
	}
	if d0 != nil {
		_, _, _ = d0[2*n-1], d1[2*n-1], gy[n-1]
		pool2BwdAVX2(&d0[0], &d1[0], &r0[0], &r1[0], &gy[0], n)
	}
	return n
}
