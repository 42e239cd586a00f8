//go:build !amd64 || purego

package nn

// addReLU is y[i] = max(x[i] + b, 0) for i < len(y) (addReLUGo).
func addReLU(y, x []float32, b float32) { addReLUGo(y, x, b) }

// reluMask32 is d[i] = g[i] where y[i] > 0, else 0 (reluMaskGo).
func reluMask32(d, y, g []float32) { reluMaskGo(d, y, g) }
