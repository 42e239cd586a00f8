//go:build amd64 && !purego

package nn

//go:noescape
func transpose8AVX(dst *float32, ldd int, src *float32, lds int)

// transpose32 is transpose on float32: 8×8 blocks through the vector
// registers where the CPU has AVX2, the edges (and other CPUs) in Go.
func transpose32(dst, src []float32, rows, cols int) {
	if !hasAVX2 || rows < 8 || cols < 8 {
		transposeGo(dst, src, rows, cols)
		return
	}
	_, _ = dst[rows*cols-1], src[rows*cols-1]
	r8, c8 := rows&^7, cols&^7
	const blk = 64
	for j0 := 0; j0 < c8; j0 += blk {
		j1 := min(j0+blk, c8)
		for i := 0; i < r8; i += 8 {
			for j := j0; j < j1; j += 8 {
				transpose8AVX(&dst[j*rows+i], rows, &src[i*cols+j], cols)
			}
		}
	}
	for i := r8; i < rows; i++ { // the last rows%8 rows, all columns
		for j, v := range src[i*cols : i*cols+cols] {
			dst[j*rows+i] = v
		}
	}
	for i := 0; i < r8; i++ { // the last cols%8 columns of the other rows
		for j := c8; j < cols; j++ {
			dst[j*rows+i] = src[i*cols+j]
		}
	}
}
