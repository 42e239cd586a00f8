//go:build !amd64 || purego

package nn

const hasAVX512 = false

func biasSum8(acc *[8]float64, g []float32, n, c, s, k int) bool { return false }
