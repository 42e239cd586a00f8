//go:build !amd64 || purego

package nn

// kernels lists the kernels this build can run: the pure-Go one.
func kernels() []kernel { return []kernel{goKernel} }

func hasFMA() bool { return false }

func fma32AVX2(a, b, c float32) float32 { panic("no FMA instruction in this build") }

var activeKernel = goKernel

var narrowKernel = goKernel

// addTo is dst[i] += src[i] for i < len(src) (len(dst) ≥ len(src)).
func addTo(dst, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] += v
	}
}

// zeroAdd is dst[i] = 0 + src[i] for i < len(src) (zeroAddGo).
func zeroAdd(dst, src []float32) { zeroAddGo(dst, src) }
