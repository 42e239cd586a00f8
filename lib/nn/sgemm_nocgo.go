//go:build !cgo

package nn

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// sgemmBackend names the float32 matrix product in use (for benchmarks).
const sgemmBackend = "gonum pure-Go Sgemm (built without cgo)"

// sgemm is C = A·B + beta·C on row-major float32 matrices (A m×k, B k×n).
func sgemm(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, lda, b, ldb, beta, c, ldc)
}

// sgemmBaseline is sgemm: there is only one path without cgo.
func sgemmBaseline(m, n, k int, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(m, n, k, a, lda, b, ldb, beta, c, ldc)
}
