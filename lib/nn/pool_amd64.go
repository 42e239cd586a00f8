//go:build amd64 && !purego

package nn

import "math"

//go:noescape
func pool2FwdAVX2(y, r0, r1 *float32, n int)

//go:noescape
func pool2BwdAVX2(d0, d1, r0, r1, gy *float32, n int)

// pool2Rows32 pools the windows of the row pair r0, r1 eight at a time
// where the CPU has AVX2, as pool2Windows does: into y when it is not nil,
// and gy's gradient into the row pair d0, d1 when they are not nil. A row
// whose window count is not a multiple of 8 ends with a block that
// overlaps the one before (its windows are computed twice, with the same
// result each time); a row of fewer than 8 windows goes through a padded
// copy. It returns the number of windows done, all of them (len(r0)/2)
// with AVX2 and none without; pool2Windows does the rest.
func pool2Rows32(y, d0, d1, r0, r1, gy []float32) int {
	wo := len(r0) / 2
	if !hasAVX2 || wo == 0 {
		return 0
	}
	if wo < 8 {
		pool2Short32(y, d0, d1, r0, r1, gy, wo)
		return wo
	}
	_, _ = r0[2*wo-1], r1[2*wo-1]
	n := wo &^ 7
	if y != nil {
		_ = y[wo-1]
		pool2FwdAVX2(&y[0], &r0[0], &r1[0], n)
		if n < wo {
			j := wo - 8
			pool2FwdAVX2(&y[j], &r0[2*j], &r1[2*j], 8)
		}
	}
	if d0 != nil {
		_, _, _ = d0[2*wo-1], d1[2*wo-1], gy[wo-1]
		pool2BwdAVX2(&d0[0], &d1[0], &r0[0], &r1[0], &gy[0], n)
		if n < wo {
			j := wo - 8
			pool2BwdAVX2(&d0[2*j], &d1[2*j], &r0[2*j], &r1[2*j], &gy[j], 8)
		}
	}
	return wo
}

// pool2Short32 is pool2Rows32 for a row of wo < 8 windows: the rows are
// copied into eight windows' worth of scratch, the rest of it −MaxFloat32
// (and gy's 0), pooled there, and the wo real windows copied out.
func pool2Short32(y, d0, d1, r0, r1, gy []float32, wo int) {
	var a, b, d, e [16]float32
	var ys, g [8]float32
	for i := range a {
		a[i], b[i] = -math.MaxFloat32, -math.MaxFloat32
	}
	copy(a[:], r0[:2*wo])
	copy(b[:], r1[:2*wo])
	if y != nil {
		pool2FwdAVX2(&ys[0], &a[0], &b[0], 8)
		copy(y[:wo], ys[:wo])
	}
	if d0 != nil {
		copy(g[:], gy[:wo])
		pool2BwdAVX2(&d[0], &e[0], &a[0], &b[0], &g[0], 8)
		copy(d0[:2*wo], d[:2*wo])
		copy(d1[:2*wo], e[:2*wo])
	}
}
