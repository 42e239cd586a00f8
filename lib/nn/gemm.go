package nn

import (
	"math"
	"runtime"
	"sync"
)

// The float32 matrix product of every float32 convolution and linear layer.
//
// Its result is defined element by element: c[i][j] is the chain
//
//	s = 0 (or the old c[i][j] when accumulating)
//	s = fma(a[i][l], b[l][j], s) for l = 0, 1, …, k−1
//
// where fma rounds a·b+s once to float32. Blocking, packing, the tile shape,
// the instruction set and the number of goroutines only decide which
// elements are computed where, never the order of one element's chain (k is
// blocked by storing s to c and continuing from it, which is exact), so the
// assembly kernels (AVX-512 or AVX2 with FMA) and the pure-Go kernel give
// the same bits, with or without cgo, on any number of cores.

// kernel is one micro-kernel: it computes an mr×nr tile of C from a panel
// of A (element r, l at r·ars + l·ast: a packed panel, ars 1 and ast mr, or
// A itself when it is not transposed, ars lda and ast 1) and rows of B (for
// each l, the nr values b[l][j0..j0+nr], ldb apart: a packed panel, or B
// itself when it is not transposed), starting each chain at zero or at the
// tile's values in C (acc). Tiles are always full: the driver pads A and B
// with zeros and writes edge tiles through a scratch tile.
type kernel struct {
	name   string
	mr, nr int
	run    func(k int, a []float32, ars, ast int, b []float32, ldb int, c []float32, ldc int, acc bool)
}

// goKernel is the pure-Go kernel: the reference the assembly kernels are
// tested against bit for bit, and the kernel of CPUs without FMA.
var goKernel = kernel{"go", 4, 8, kernGo}

func kernGo(k int, a []float32, ars, ast int, b []float32, ldb int, c []float32, ldc int, acc bool) {
	const mr, nr = 4, 8
	for r := 0; r < mr; r++ {
		for j := 0; j < nr; j++ {
			var s float32
			if acc {
				s = c[r*ldc+j]
			}
			for l := 0; l < k; l++ {
				s = fma32(a[r*ars+l*ast], b[l*ldb+j], s)
			}
			c[r*ldc+j] = s
		}
	}
}

// fma32 is a·b+c rounded once to float32, as the FMA instructions do. The
// product of two float32 is exact in float64 (48 of 53 bits), but rounding
// the float64 sum to float32 would round twice; so the sum is rounded to
// odd instead (the float64 result of round-to-nearest, moved one unit
// toward the exact sum when it is inexact and even, which TwoSum's error
// term tells), and a value rounded to odd with at least two more bits than
// float32 rounds to float32 as the exact sum would. Every operation is an
// explicit conversion, so the compiler cannot fuse any of them.
func fma32(a, b, c float32) float32 {
	p := float64(float64(a) * float64(b))
	z := float64(c)
	s := float64(p + z)
	if s == 0 || math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// TwoSum: e is exactly (p + z) − s.
	bp := float64(s - p)
	e := float64(float64(p-float64(s-bp)) + float64(z-bp))
	if e != 0 {
		u := math.Float64bits(s)
		if u&1 == 0 {
			if (e > 0) == (s > 0) {
				u++ // s was rounded toward zero: the odd neighbour away from it
			} else {
				u-- // s was rounded away from zero: the odd neighbour toward it
			}
			s = math.Float64frombits(u)
		}
	}
	return float32(s)
}

// kcBlock is the length of the k blocks: a packed B panel of kcBlock×nr
// floats stays in the first-level cache while the A panels stream by.
const kcBlock = 256

// gemmScratch holds the packed panels of one product.
type gemmScratch struct{ a, b, tiles []float32 }

var gemmScratchPool = sync.Pool{New: func() any { return new(gemmScratch) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// sgemm is C = op(A)·op(B) on row-major float32 matrices, op(A) m×k and
// op(B) k×n, where op transposes when tA (A is stored k×m) or tB (B is
// stored n×k). With acc it continues C's chains (C += op(A)·op(B) in the
// order defined above) instead of starting them at zero. Up to workers
// goroutines share the output tiles.
func sgemm(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int, workers int) {
	sgemmWith(activeKernel, tA, tB, m, n, k, a, lda, b, ldb, acc, c, ldc, workers)
}

func sgemmWith(kr kernel, tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int, workers int) {
	if m <= 0 || n <= 0 {
		return
	}
	_ = c[(m-1)*ldc+n-1]
	if k <= 0 {
		if !acc {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	// Bounds, so a wrong call panics here and not in the assembly.
	if tA {
		_ = a[(k-1)*lda+m-1]
	} else {
		_ = a[(m-1)*lda+k-1]
	}
	if tB {
		_ = b[(n-1)*ldb+k-1]
	} else {
		_ = b[(k-1)*ldb+n-1]
	}
	mr, nr := kr.mr, kr.nr
	mp, np := (m+mr-1)/mr, (n+nr-1)/nr
	sc := gemmScratchPool.Get().(*gemmScratch)
	defer gemmScratchPool.Put(sc)
	kb0 := min(k, kcBlock)
	sc.a = grow(sc.a, mp*mr*kb0)
	sc.b = grow(sc.b, np*nr*kb0)
	// Split the panels of the longer side among the workers; never k.
	workers = max(1, min(workers, max(mp, np)))
	sc.tiles = grow(sc.tiles, workers*mr*nr)
	for pc := 0; pc < k; pc += kcBlock {
		kb := min(kcBlock, k-pc)
		pa, pb := sc.a[:mp*mr*kb], sc.b[:np*nr*kb]
		run := func(w int) {
			i0, i1, j0, j1 := 0, mp, 0, np
			if np >= mp {
				j0, j1 = np*w/workers, np*(w+1)/workers
			} else {
				i0, i1 = mp*w/workers, mp*(w+1)/workers
			}
			// Each worker packs the panels of its own share of the split
			// side and, redundantly but cheaply, nothing of the other:
			// the other side is packed once below, before the workers start.
			if np >= mp {
				for jp := j0; jp < j1; jp++ {
					packB(tB, pb[jp*nr*kb:(jp+1)*nr*kb], b, ldb, pc, kb, jp*nr, min(nr, n-jp*nr), nr)
				}
			} else {
				for ip := i0; ip < i1; ip++ {
					packA(tA, pa[ip*mr*kb:(ip+1)*mr*kb], a, lda, pc, kb, ip*mr, min(mr, m-ip*mr), mr)
				}
			}
			tile := sc.tiles[w*mr*nr : (w+1)*mr*nr]
			for jp := j0; jp < j1; jp++ {
				jn := min(nr, n-jp*nr)
				bp, bld := pb[jp*nr*kb:(jp+1)*nr*kb], nr
				if !tB && jn == nr { // B's rows are the panel's rows
					bp, bld = b[pc*ldb+jp*nr:], ldb
				}
				for ip := i0; ip < i1; ip++ {
					im := min(mr, m-ip*mr)
					ap, ars, ast := pa[ip*mr*kb:(ip+1)*mr*kb], 1, mr
					if !tA && im == mr { // A's rows are the panel's rows
						ap, ars, ast = a[ip*mr*lda+pc:], lda, 1
					}
					co := ip*mr*ldc + jp*nr
					accum := acc || pc > 0
					if im == mr && jn == nr {
						kr.run(kb, ap, ars, ast, bp, bld, c[co:], ldc, accum)
						continue
					}
					t := tile[:mr*nr]
					if accum {
						for r := 0; r < im; r++ {
							copy(t[r*nr:r*nr+jn], c[co+r*ldc:co+r*ldc+jn])
						}
					}
					kr.run(kb, ap, ars, ast, bp, bld, t, nr, accum)
					for r := 0; r < im; r++ {
						copy(c[co+r*ldc:co+r*ldc+jn], t[r*nr:r*nr+jn])
					}
				}
			}
		}
		if np >= mp {
			for ip := 0; ip < mp; ip++ {
				packA(tA, pa[ip*mr*kb:(ip+1)*mr*kb], a, lda, pc, kb, ip*mr, min(mr, m-ip*mr), mr)
			}
		} else {
			for jp := 0; jp < np; jp++ {
				packB(tB, pb[jp*nr*kb:(jp+1)*nr*kb], b, ldb, pc, kb, jp*nr, min(nr, n-jp*nr), nr)
			}
		}
		if workers == 1 {
			run(0)
			continue
		}
		var wg sync.WaitGroup
		for w := 1; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				run(w)
			}()
		}
		run(0)
		wg.Wait()
	}
}

// packA writes rows [i0, i0+im) and columns [pc, pc+kb) of op(A) as a panel
// dst[l*mr+r], zero in rows im..mr; a full panel of an untransposed A is
// left where it is.
func packA(tA bool, dst, a []float32, lda, pc, kb, i0, im, mr int) {
	if !tA && im == mr {
		return // the kernel reads A itself
	}
	if tA { // op(A)[i][l] = a[l][i]: each l is a contiguous run of rows
		for l := 0; l < kb; l++ {
			d := dst[l*mr : (l+1)*mr]
			copy(d, a[(pc+l)*lda+i0:(pc+l)*lda+i0+im])
			clear(d[im:])
		}
		return
	}
	for r := 0; r < im; r++ {
		src := a[(i0+r)*lda+pc : (i0+r)*lda+pc+kb]
		for l, v := range src {
			dst[l*mr+r] = v
		}
	}
	for r := im; r < mr; r++ {
		for l := 0; l < kb; l++ {
			dst[l*mr+r] = 0
		}
	}
}

// packB writes rows [pc, pc+kb) and columns [j0, j0+jn) of op(B) as a panel
// dst[l*nr+j], zero in columns jn..nr; a full panel of an untransposed B is
// left where it is.
func packB(tB bool, dst, b []float32, ldb, pc, kb, j0, jn, nr int) {
	if !tB && jn == nr {
		return // the kernel reads B itself
	}
	if !tB {
		for l := 0; l < kb; l++ {
			d := dst[l*nr : (l+1)*nr]
			copy(d, b[(pc+l)*ldb+j0:(pc+l)*ldb+j0+jn])
			clear(d[jn:])
		}
		return
	}
	// op(B)[l][j] = b[j][l], in blocks of 8 l so that the writes stay in
	// a few cache lines.
	for l0 := 0; l0 < kb; l0 += 8 {
		l1 := min(l0+8, kb)
		for j := 0; j < jn; j++ {
			src := b[(j0+j)*ldb+pc+l0 : (j0+j)*ldb+pc+l1]
			for l, v := range src {
				dst[(l0+l)*nr+j] = v
			}
		}
		if jn < nr {
			for l := l0; l < l1; l++ {
				clear(dst[l*nr+jn : (l+1)*nr])
			}
		}
	}
}

// gemmWorkers is the number of goroutines a product may use by itself.
func gemmWorkers() int { return runtime.GOMAXPROCS(0) }
