//go:build !amd64 || purego

package nn

// expSub is dst[i] = exp32(z[i] − m[i]) for i < len(dst).
func expSub(dst, z, m []float32) { expSubGo(dst, z, m) }
