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

// An untransposed B is read in place by the kernels, except when it is
// wide (rows at least copyBMinLd floats apart) and each of its panels
// serves at least copyBMinPanels panels of A: a panel whose rows lie 4 KiB
// or more apart falls into a few sets of the first-level cache, and an
// input gradient's wᵀ × gy (k of 16 to 32, m of 144 and more) ran at a
// third of the kernel's speed until its B panels were copied.
const (
	copyBMinPanels = 6
	copyBMinLd     = 256
)

// gemmJob is one product and its packed panels, kept in a pool so that a
// product allocates nothing (not even the closure its workers would need).
type gemmJob struct {
	kr              kernel
	tA, tB, acc     bool
	m, n, k         int
	a, b, c         []float32
	lda, ldb, ldc   int
	workers, mp, np int
	pc, kb          int
	copyB           bool // copy full panels of an untransposed B too
	pa, pb, tiles   []float32
	wg              sync.WaitGroup
}

var gemmJobs = sync.Pool{New: func() any { return new(gemmJob) }}

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
	kr := activeKernel
	if n <= narrowKernel.nr && narrowKernel.nr < kr.nr {
		// A product 16 or fewer columns wide (a filter gradient of 16
		// channels) would waste half of a 32-wide tile: the narrower
		// kernel gives the same bits.
		kr = narrowKernel
	}
	sgemmWith(kr, tA, tB, m, n, k, a, lda, b, ldb, acc, c, ldc, workers)
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
	j := gemmJobs.Get().(*gemmJob)
	defer gemmJobs.Put(j)
	pa, pb, tiles := j.pa, j.pb, j.tiles
	*j = gemmJob{kr: kr, tA: tA, tB: tB, acc: acc, m: m, n: n, k: k, a: a, b: b, c: c, lda: lda, ldb: ldb, ldc: ldc}
	defer func() { j.a, j.b, j.c = nil, nil, nil }() // do not keep the caller's data alive
	j.mp, j.np = (m+mr-1)/mr, (n+nr-1)/nr
	j.copyB = !tB && j.mp >= copyBMinPanels && ldb >= copyBMinLd
	kb0 := min(k, kcBlock)
	j.pa = grow(pa, j.mp*mr*kb0)
	j.pb = grow(pb, j.np*nr*kb0)
	// Split the panels of the longer side among the workers; never k.
	j.workers = max(1, min(workers, max(j.mp, j.np)))
	j.tiles = grow(tiles, j.workers*mr*nr)
	for pc := 0; pc < k; pc += kcBlock {
		j.pc, j.kb = pc, min(kcBlock, k-pc)
		kb := j.kb
		// The side that is not split among the workers is packed once,
		// before they start.
		if j.np >= j.mp {
			for ip := 0; ip < j.mp; ip++ {
				packA(tA, j.pa[ip*mr*kb:(ip+1)*mr*kb], a, lda, pc, kb, ip*mr, min(mr, m-ip*mr), mr)
			}
		} else {
			for jp := 0; jp < j.np; jp++ {
				packB(tB, j.copyB, j.pb[jp*nr*kb:(jp+1)*nr*kb], b, ldb, pc, kb, jp*nr, min(nr, n-jp*nr), nr)
			}
		}
		if j.workers == 1 {
			j.run(0)
			continue
		}
		j.wg.Add(j.workers - 1)
		for w := 1; w < j.workers; w++ {
			go j.runDone(w)
		}
		j.run(0)
		j.wg.Wait()
	}
}

func (j *gemmJob) runDone(w int) {
	defer j.wg.Done()
	j.run(w)
}

// run computes worker w's share of the tiles of the current k block.
func (j *gemmJob) run(w int) {
	mr, nr, kb, pc := j.kr.mr, j.kr.nr, j.kb, j.pc
	i0, i1, j0, j1 := 0, j.mp, 0, j.np
	if j.np >= j.mp {
		j0, j1 = j.np*w/j.workers, j.np*(w+1)/j.workers
		for jp := j0; jp < j1; jp++ { // this worker's share of the split side
			packB(j.tB, j.copyB, j.pb[jp*nr*kb:(jp+1)*nr*kb], j.b, j.ldb, pc, kb, jp*nr, min(nr, j.n-jp*nr), nr)
		}
	} else {
		i0, i1 = j.mp*w/j.workers, j.mp*(w+1)/j.workers
		for ip := i0; ip < i1; ip++ {
			packA(j.tA, j.pa[ip*mr*kb:(ip+1)*mr*kb], j.a, j.lda, pc, kb, ip*mr, min(mr, j.m-ip*mr), mr)
		}
	}
	tile := j.tiles[w*mr*nr : (w+1)*mr*nr]
	accum := j.acc || pc > 0
	for jp := j0; jp < j1; jp++ {
		jn := min(nr, j.n-jp*nr)
		bp, bld := j.pb[jp*nr*kb:(jp+1)*nr*kb], nr
		if !j.tB && !j.copyB && jn == nr { // B's rows are the panel's rows
			bp, bld = j.b[pc*j.ldb+jp*nr:], j.ldb
		}
		for ip := i0; ip < i1; ip++ {
			im := min(mr, j.m-ip*mr)
			ap, ars, ast := j.pa[ip*mr*kb:(ip+1)*mr*kb], 1, mr
			if !j.tA && im == mr { // A's rows are the panel's rows
				ap, ars, ast = j.a[ip*mr*j.lda+pc:], j.lda, 1
			}
			co := ip*mr*j.ldc + jp*nr
			if im == mr && jn == nr {
				j.kr.run(kb, ap, ars, ast, bp, bld, j.c[co:], j.ldc, accum)
				continue
			}
			if accum {
				for r := 0; r < im; r++ {
					copy(tile[r*nr:r*nr+jn], j.c[co+r*j.ldc:co+r*j.ldc+jn])
				}
			}
			j.kr.run(kb, ap, ars, ast, bp, bld, tile, nr, accum)
			for r := 0; r < im; r++ {
				copy(j.c[co+r*j.ldc:co+r*j.ldc+jn], tile[r*nr:r*nr+jn])
			}
		}
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
// left where it is unless copyFull.
func packB(tB, copyFull bool, dst, b []float32, ldb, pc, kb, j0, jn, nr int) {
	if !tB && jn == nr && !copyFull {
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
