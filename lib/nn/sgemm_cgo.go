//go:build cgo

package nn

// #cgo CFLAGS: -O3
// void dagrun_sgemm(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc, float *pb);
// void dagrun_sgemm_base(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc, float *pb);
import "C"

import "sync"

// panels recycles the packed-B scratch of sgemm: it was allocated per call,
// i.e. per image and layer, megabytes of garbage per training step.
var panels = sync.Pool{New: func() any { return new([]float32) }}

// sgemmBackend names the float32 matrix product in use (for benchmarks).
const sgemmBackend = "cgo register-blocked kernel (sgemm.c; AVX2 when the CPU has it, same bits either way)"

// sgemm is C = A·B + beta·C on row-major float32 matrices (A m×k, B k×n).
func sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(false, m, n, k, a, lda, b, ldb, beta, c, ldc)
}

// sgemmWith is sgemm; base forces the baseline (non-AVX2) path.
func sgemmWith(base bool, m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				c[i*ldc+j] *= beta
			}
		}
		return
	}
	// Bounds, so a wrong call panics in Go instead of corrupting memory in C.
	_, _, _ = a[(m-1)*lda+k-1], b[(k-1)*ldb+n-1], c[(m-1)*ldc+n-1]
	pp := panels.Get().(*[]float32)
	defer panels.Put(pp)
	if cap(*pp) < k*16 {
		*pp = make([]float32, k*16)
	}
	pb := (*pp)[:k*16]
	ca, cb, cc, cp := (*C.float)(&a[0]), (*C.float)(&b[0]), (*C.float)(&c[0]), (*C.float)(&pb[0])
	if base {
		C.dagrun_sgemm_base(C.int(m), C.int(n), C.int(k), ca, C.int(lda), cb, C.int(ldb), C.float(beta), cc, C.int(ldc), cp)
	} else {
		C.dagrun_sgemm(C.int(m), C.int(n), C.int(k), ca, C.int(lda), cb, C.int(ldb), C.float(beta), cc, C.int(ldc), cp)
	}
}

// sgemmBaseline runs the baseline path, for tests comparing bits.
func sgemmBaseline(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmWith(true, m, n, k, a, lda, b, ldb, beta, c, ldc)
}
