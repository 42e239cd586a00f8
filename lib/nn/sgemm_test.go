package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestSgemm compares the float32 kernel with a float64 triple loop on shapes
// that exercise full tiles, ragged edges and leading dimensions wider than
// the matrices, with beta 0 and 1.
func TestSgemm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range [][3]int{{1, 1, 1}, {4, 16, 3}, {5, 17, 9}, {16, 64, 144}, {3, 40, 1}, {9, 7, 33}} {
		for _, beta := range []float32{0, 1} {
			m, n, k := s[0], s[1], s[2]
			lda, ldb, ldc := k+2, n+3, n+1
			a, b, c := make([]float32, m*lda), make([]float32, k*ldb), make([]float32, m*ldc)
			for _, x := range [][]float32{a, b, c} {
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
			}
			want := make([]float64, len(c))
			for i := 0; i < m; i++ {
				for j := 0; j < ldc; j++ {
					want[i*ldc+j] = float64(c[i*ldc+j])
					if j >= n {
						continue
					}
					var sum float64
					for l := 0; l < k; l++ {
						sum += float64(a[i*lda+l]) * float64(b[l*ldb+j])
					}
					want[i*ldc+j] = sum + float64(beta)*float64(c[i*ldc+j])
				}
			}
			c0 := slices.Clone(c)
			sgemm(m, n, k, a, lda, b, ldb, beta, c, ldc)
			sgemmBaseline(m, n, k, a, lda, b, ldb, beta, c0, ldc)
			if !slices.Equal(c, c0) {
				t.Errorf("%dx%dx%d beta %v: the vector and baseline paths differ in bits", m, n, k, beta)
			}
			for i, w := range want {
				if d := math.Abs(float64(c[i]) - w); d > 1e-5*math.Max(1, math.Abs(w))*float64(k) {
					t.Fatalf("%dx%dx%d beta %v: c[%d] = %v, want %v", m, n, k, beta, i, c[i], w)
				}
			}
		}
	}
}

// TestCoresDoNotChangeBits: gradients are bit-identical whatever GOMAXPROCS
// is, so cached results do not depend on the machine's core count.
func TestCoresDoNotChangeBits(t *testing.T) {
	tc := testCase{cfg: Config{Arch: ArchFCN, Classes: 3, H: 16, W: 16, Seed: 1}, n: 5, w: true}
	x, y, w := tc.batch(3)
	var grads [][]float32
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3} {
		runtime.GOMAXPROCS(procs)
		m := mustNew(t, tc.cfg)
		_, g, err := m.FlatGrad(x, y, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		grads = append(grads, g)
	}
	if !slices.Equal(grads[0], grads[1]) || !slices.Equal(grads[0], grads[2]) {
		t.Error("the gradient depends on GOMAXPROCS")
	}
}

// BenchmarkSgemm compares the kernel with gonum on the convolutions' shapes.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range [][3]int{{16, 4096, 144}, {144, 16, 4096}, {144, 4096, 16}, {32, 1024, 288}} {
		m, n, k := s[0], s[1], s[2]
		a, bb, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range bb {
			bb[i] = float32(i%5) * 0.1
		}
		b.Run(fmt.Sprintf("nn-%dx%dx%d", m, n, k), func(b *testing.B) {
			for range b.N {
				sgemm(m, n, k, a, k, bb, n, 0, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPs")
		})
		b.Run(fmt.Sprintf("gonum-%dx%dx%d", m, n, k), func(b *testing.B) {
			for range b.N {
				gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bb, n, 0, c, n)
			}
			b.ReportMetric(float64(2*m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPs")
		})
	}
}
