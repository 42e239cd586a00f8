//go:build amd64 && !purego

package nn

import "golang.org/x/sys/cpu"

//go:noescape
func kernAVX512(k int, a *float32, ars, ast int, b *float32, ldb int, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX512N16(k int, a *float32, ars, ast int, b *float32, ldb int, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX2(k int, a *float32, ars, ast int, b *float32, ldb int, c *float32, ldc int, acc bool)

//go:noescape
func addToAVX2(dst, src []float32)

// addTo is dst[i] += src[i] for i < len(src) (len(dst) ≥ len(src)).
func addTo(dst, src []float32) {
	_ = dst[:len(src)]
	if hasAVX2 && len(src) >= 8 {
		addToAVX2(dst, src)
		return
	}
	for i, v := range src {
		dst[i] += v
	}
}

//go:noescape
func zeroAddAVX2(dst, src []float32)

// zeroAdd is dst[i] = 0 + src[i] for i < len(src) (len(dst) ≥ len(src)):
// what clearing dst and then addTo give, in one pass.
func zeroAdd(dst, src []float32) {
	_ = dst[:len(src)]
	if hasAVX2 && len(src) >= 8 {
		zeroAddAVX2(dst, src)
		return
	}
	zeroAddGo(dst, src)
}

var hasAVX2 = cpu.X86.HasAVX2

// fma32AVX2 is VFMADD231SS, for the tests of fma32.
func fma32AVX2(a, b, c float32) float32

var (
	avx512Kernel = kernel{"avx512", 8, 32, func(k int, a []float32, ars, ast int, b []float32, ldb int, c []float32, ldc int, acc bool) {
		kernAVX512(k, &a[0], ars, ast, &b[0], ldb, &c[0], ldc, acc)
	}}
	avx512N16Kernel = kernel{"avx512n16", 8, 16, func(k int, a []float32, ars, ast int, b []float32, ldb int, c []float32, ldc int, acc bool) {
		kernAVX512N16(k, &a[0], ars, ast, &b[0], ldb, &c[0], ldc, acc)
	}}
	avx2Kernel = kernel{"avx2", 6, 16, func(k int, a []float32, ars, ast int, b []float32, ldb int, c []float32, ldc int, acc bool) {
		kernAVX2(k, &a[0], ars, ast, &b[0], ldb, &c[0], ldc, acc)
	}}
)

// kernels lists the kernels this CPU can run, fastest first (the 16-wide
// AVX-512 kernel only for narrow products); the last is the pure-Go one.
func kernels() []kernel {
	var ks []kernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel, avx512N16Kernel)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel)
}

// hasFMA reports whether fma32AVX2 can run.
func hasFMA() bool { return cpu.X86.HasFMA && cpu.X86.HasAVX }

var activeKernel = kernels()[0]

// narrowKernel is the kernel for products at most its nr columns wide:
// the 16-wide AVX-512 kernel beside the 32-wide one, otherwise the active
// kernel itself (never the slow pure-Go one).
var narrowKernel = func() kernel {
	if ks := kernels(); ks[0].name == "avx512" && ks[1].name == "avx512n16" {
		return ks[1]
	}
	return activeKernel
}()
