//go:build !amd64 || purego

package nn

// transpose32 is transpose on float32.
func transpose32(dst, src []float32, rows, cols int) { transposeGo(dst, src, rows, cols) }
