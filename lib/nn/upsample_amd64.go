//go:build amd64 && !purego

package nn

//go:noescape
func up2RowAVX2(y0, y1, x *float32, n int)

//go:noescape
func down2RowAVX2(y, r0, r1 *float32, n int)

// up2Row32 does the first pixels of one row of upsamplePlanes (x's row
// into the output rows y0 and y1) eight at a time where the CPU has AVX2,
// and returns how many it did.
func up2Row32(y0, y1, x []float32) int {
	n := len(x) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	_, _ = y0[2*n-1], y1[2*n-1]
	up2RowAVX2(&y0[0], &y1[0], &x[0], n)
	return n
}

// down2Row32 does the first outputs of one row of down2SumPlanes (y from
// the input rows r0 and r1) eight at a time where the CPU has AVX2, and
// returns how many it did.
func down2Row32(y, r0, r1 []float32) int {
	n := len(y) &^ 7
	if !hasAVX2 || n == 0 {
		return 0
	}
	_, _ = r0[2*n-1], r1[2*n-1]
	down2RowAVX2(&y[0], &r0[0], &r1[0], n)
	return n
}
