package nn

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// fma32Exact is a·b+c computed exactly and rounded once to float32 (the
// independent reference for fma32).
func fma32Exact(a, b, c float32) float32 {
	x := new(big.Float).SetPrec(200).SetFloat64(float64(a))
	x.Mul(x, new(big.Float).SetFloat64(float64(b)))
	x.Add(x, new(big.Float).SetFloat64(float64(c)))
	f, _ := x.Float32()
	if f == 0 { // big.Float has no signed zero of a sum; IEEE gives +0 unless both terms are −0
		return float32(float64(a)*float64(b) + float64(c))
	}
	return f
}

// fmaCases are random inputs over a wide exponent range, and near-ties:
// a·b close to half a unit of c in the last place, where rounding the
// float64 sum to float32 would round twice.
func fmaCases(n int) [][3]float32 {
	r := rand.New(rand.NewPCG(3, 4))
	cases := [][3]float32{
		{1 + 0x1p-23, (1 - 0x1p-23) * 0x1p-24, 1 + 0x1p-23}, // the classic double-rounding case
		{0, -1, 0}, {-0.0, 1, float32(math.Copysign(0, -1))}, {1, 1, -1},
		{0x1p-70, 0x1p-70, 0x1p-149}, {3e38, 2, -3e38}, {float32(math.Inf(1)), 1, 1},
	}
	rnd := func(spread int) float32 {
		return float32(math.Ldexp(1+r.Float64(), r.IntN(2*spread+1)-spread)) * float32(1-2*r.IntN(2))
	}
	for range n {
		cases = append(cases, [3]float32{rnd(60), rnd(60), rnd(60)})
		// a·b ≈ ±½ ulp(c), then neighbours of b.
		c, a := rnd(20), rnd(10)
		half := math.Ldexp(1, math.Ilogb(float64(c))-24)
		b := float32(half / float64(a) * float64(1-2*r.IntN(2)))
		for d := -2; d <= 2; d++ {
			bb := math.Float32frombits(uint32(int32(math.Float32bits(b)) + int32(d)))
			cases = append(cases, [3]float32{a, bb, c})
		}
		// Subnormal results.
		cases = append(cases, [3]float32{rnd(5) * 0x1p-70, rnd(5) * 0x1p-70, rnd(5) * 0x1p-140})
	}
	return cases
}

// TestFMA32 checks the pure-Go fma32 against an exact computation and, where
// the CPU has it, against the FMA instruction, and checks that the cases
// include some where naive float64 arithmetic rounds twice.
func TestFMA32(t *testing.T) {
	naiveWrong := 0
	for _, c := range fmaCases(200000) {
		got := fma32(c[0], c[1], c[2])
		want := fma32Exact(c[0], c[1], c[2])
		if math.Float32bits(got) != math.Float32bits(want) && !(got != got && want != want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, want %g", c[0], c[1], c[2], got, want)
		}
		if hasFMA() {
			if hw := fma32AVX2(c[0], c[1], c[2]); math.Float32bits(got) != math.Float32bits(hw) && !(hw != hw && got != got) {
				t.Fatalf("fma32(%g, %g, %g) = %g, the instruction gives %g", c[0], c[1], c[2], got, hw)
			}
		}
		if float32(float64(c[0])*float64(c[1])+float64(c[2])) != want {
			naiveWrong++
		}
	}
	if naiveWrong == 0 {
		t.Error("no case where double rounding differs: the near-tie cases are not adversarial")
	}
	t.Logf("%d cases where rounding twice would differ", naiveWrong)
}

// chainRef is the product as gemm.go defines it, element by element with
// no packing or blocking.
func chainRef(tA, tB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, acc bool, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			if acc {
				s = c[i*ldc+j]
			}
			for l := 0; l < k; l++ {
				av, bv := a[i*lda+l], b[l*ldb+j]
				if tA {
					av = a[l*lda+i]
				}
				if tB {
					bv = b[j*ldb+l]
				}
				s = fma32(av, bv, s)
			}
			c[i*ldc+j] = s
		}
	}
}

// TestSgemmBits runs every kernel this CPU has (AVX-512, AVX2, pure Go) on
// ragged shapes, both transposes, with and without accumulation, k longer
// than a k block, wide B read in place or copied (copyB), and 1 to 3
// workers, and requires the bits of the element-by-element chain.
func TestSgemmBits(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ks := kernels()
	t.Logf("kernels: %d", len(ks))
	for _, s := range [][3]int{{1, 1, 1}, {8, 32, 3}, {9, 33, 7}, {5, 17, 300}, {21, 70, 513}, {16, 1, 40}, {3, 100, 9}, {40, 10, 2}, {50, 260, 37}, {53, 300, 270}} {
		m, n, k := s[0], s[1], s[2]
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, acc := range []bool{false, true} {
					lda, ldb, ldc := k+2, n+3, n+1
					if tA {
						lda = m + 1
					}
					if tB {
						ldb = k + 5
					}
					a, b, c := make([]float32, max(m, k)*lda), make([]float32, max(n, k)*ldb), make([]float32, m*ldc)
					for _, x := range [][]float32{a, b, c} {
						for i := range x {
							x[i] = float32(r.NormFloat64())
						}
					}
					want := slices.Clone(c)
					chainRef(tA, tB, m, n, k, a, lda, b, ldb, acc, want, ldc)
					for _, kr := range ks {
						for workers := 1; workers <= 3; workers++ {
							got := slices.Clone(c)
							sgemmWith(kr, tA, tB, m, n, k, a, lda, b, ldb, acc, got, ldc, workers)
							if !slices.Equal(got, want) {
								t.Fatalf("%s %dx%dx%d tA %v tB %v acc %v workers %d: bits differ from the chain", kr.name, m, n, k, tA, tB, acc, workers)
							}
						}
					}
				}
			}
		}
	}
}

// TestBitsGoldenPureGo runs TestBitsGolden's digests with the pure-Go
// kernel, so the digests pin it as well as the assembly.
func TestBitsGoldenPureGo(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	defer func(k, n kernel) { activeKernel, narrowKernel = k, n }(activeKernel, narrowKernel)
	activeKernel, narrowKernel = goKernel, goKernel
	TestBitsGolden(t)
}

// TestCoresDoNotChangeBits: gradients are bit-identical whatever GOMAXPROCS
// is, so cached results do not depend on the machine's core count.
func TestCoresDoNotChangeBits(t *testing.T) {
	for _, cfg := range []Config{
		{Arch: ArchFCN, Classes: 3, H: 16, W: 16, Seed: 1},
		{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{40}, Seed: 1},
	} {
		tc := testCase{cfg: cfg, n: 5, w: true}
		x, y, w := tc.batch(3)
		var grads [][]float32
		func() {
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
		}()
		if !slices.Equal(grads[0], grads[1]) || !slices.Equal(grads[0], grads[2]) {
			t.Errorf("%s: the gradient depends on GOMAXPROCS", cfg.Arch)
		}
	}
}

// BenchmarkSgemm measures each kernel on the convolutions' shapes (one
// goroutine), in GFLOP/s: the fcn's forward products (O × H·W × C·9), an
// input gradient (wᵀ × gy) and filter gradients (col × gyᵀ, gy transposed
// beforehand, O = 16 and 32).
func BenchmarkSgemm(b *testing.B) {
	for _, s := range []struct {
		tA, tB  bool
		m, n, k int
	}{
		{false, false, 16, 4096, 144}, {false, false, 16, 1024, 144}, {false, false, 32, 256, 288},
		{true, false, 144, 1024, 16}, {false, false, 72, 16, 1024}, {false, false, 144, 32, 256},
	} {
		a, bb, c := make([]float32, s.m*s.k), make([]float32, s.k*s.n), make([]float32, s.m*s.n)
		for i := range a {
			a[i] = float32(i%7) * 0.1
		}
		for i := range bb {
			bb[i] = float32(i%5) * 0.1
		}
		lda, ldb := s.k, s.n
		if s.tA {
			lda = s.m
		}
		if s.tB {
			ldb = s.k
		}
		for _, kr := range kernels() {
			b.Run(fmt.Sprintf("%s-%dx%dx%d-t%v%v", kr.name, s.m, s.n, s.k, s.tA, s.tB), func(b *testing.B) {
				for range b.N {
					sgemmWith(kr, s.tA, s.tB, s.m, s.n, s.k, a, lda, bb, ldb, false, c, s.n, 1)
				}
				b.ReportMetric(float64(2*s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestReLU32Edges: the branchless float32 ReLU and ReLU mask agree with the
// branches they replace on zeros of both signs, subnormals, infinities and
// NaNs.
func TestReLU32Edges(t *testing.T) {
	nan := float32(math.NaN())
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, 0x1p-149, -0x1p-149, float32(math.Inf(1)), float32(math.Inf(-1)), nan, -nan, math.MaxFloat32, -math.MaxFloat32}
	for _, v := range vals {
		y := []float32{0}
		biasReLU32(y, []float32{v}, []float32{float32(math.Copysign(0, -1))}, 0, 1, 1, 1)
		want := v + float32(math.Copysign(0, -1))
		if want < 0 {
			want = 0
		}
		if math.Float32bits(y[0]) != math.Float32bits(want) {
			t.Errorf("relu(%v) = %v (%#x), want %v (%#x)", v, y[0], math.Float32bits(y[0]), want, math.Float32bits(want))
		}
		d := []float32{7}
		reluMask32(d, []float32{v}, []float32{3})
		if w := map[bool]float32{true: 3, false: 0}[v > 0]; d[0] != w {
			t.Errorf("mask(%v) = %v, want %v", v, d[0], w)
		}
	}
}

// TestIm2colSame compares the shifted-copy im2col with the row-by-row one
// on size-keeping geometries (3×3 pad 1, dilation 2 pad 2, 1×1, and an
// image smaller than the dilated kernel).
func TestIm2colSame(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, g := range []convGeom{
		{c: 3, h: 5, w: 7, k: 3, pad: 1, dil: 1},
		{c: 2, h: 6, w: 4, k: 3, pad: 2, dil: 2},
		{c: 2, h: 3, w: 3, k: 3, pad: 3, dil: 3},
		{c: 1, h: 2, w: 9, k: 1, pad: 0, dil: 1},
	} {
		g.ho, g.wo = g.h, g.w
		x := make([]float32, g.c*g.h*g.w)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		got, want := make([]float32, g.ckk()*g.h*g.w), make([]float32, g.ckk()*g.h*g.w)
		for i := range got {
			got[i], want[i] = 9, 9 // stale values must be overwritten
		}
		im2colSame(g, got, x)
		im2colGeneral(g, want, x)
		if !slices.Equal(got, want) {
			t.Errorf("%+v: shifted-copy im2col differs", g)
		}
	}
}

// TestCol2imSame compares the flat-run col2im, which writes its output
// whole, with the row-by-row one into a cleared output, on the geometries
// of TestIm2colSame, with patch gradients that include zeros of both signs
// (the case where adding a zero could change bits).
func TestCol2imSame(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	negZero := float32(math.Copysign(0, -1))
	for _, g := range []convGeom{
		{c: 3, h: 5, w: 7, k: 3, pad: 1, dil: 1},
		{c: 2, h: 6, w: 4, k: 3, pad: 2, dil: 2},
		{c: 2, h: 3, w: 3, k: 3, pad: 3, dil: 3},
		{c: 1, h: 2, w: 9, k: 1, pad: 0, dil: 1},
		{c: 2, h: 9, w: 11, k: 3, pad: 1, dil: 1},
	} {
		g.ho, g.wo = g.h, g.w
		col := make([]float32, g.ckk()*g.h*g.w)
		for i := range col {
			switch r.IntN(4) {
			case 0:
				col[i] = negZero
			case 1:
				col[i] = 0
			default:
				col[i] = float32(r.NormFloat64())
			}
		}
		got, want := make([]float32, g.c*g.h*g.w), make([]float32, g.c*g.h*g.w)
		for i := range got {
			got[i] = 9 // stale values must be overwritten
		}
		col2imSame(g, got, slices.Clone(col))
		col2imGeneral(g, want, col)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("%+v: element %d is %v, want %v", g, i, got[i], want[i])
				break
			}
		}
	}
}

// TestZeroAdd compares zeroAdd with clearing and adding, on lengths around
// the vector width and on zeros of both signs, infinities and NaNs.
func TestZeroAdd(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(1)}
	r := rand.New(rand.NewPCG(23, 24))
	for n := 0; n < 40; n++ {
		src := make([]float32, n)
		for i := range src {
			if r.IntN(2) == 0 {
				src[i] = special[r.IntN(len(special))]
			} else {
				src[i] = float32(r.NormFloat64())
			}
		}
		got, want := make([]float32, n+3), make([]float32, n+3)
		for i := range got {
			got[i], want[i] = 5, 5
		}
		clear(want[:n])
		addTo(want, src)
		zeroAdd(got, src)
		for i := range got {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("n=%d: element %d is %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

// TestAddTo compares the vectorized addTo with scalar float32 sums on
// lengths around the vector width.
func TestAddTo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := 0; n < 40; n++ {
		dst, src := make([]float32, n+3), make([]float32, n)
		for i := range dst {
			dst[i] = float32(r.NormFloat64())
		}
		for i := range src {
			src[i] = float32(r.NormFloat64()) * 1e-3
		}
		want := slices.Clone(dst)
		for i, v := range src {
			want[i] += v
		}
		addTo(dst, src)
		if !slices.Equal(dst, want) {
			t.Fatalf("n=%d: addTo differs from scalar sums", n)
		}
	}
}

// BenchmarkIm2colCol2im is the patch matrix of one image of fcn32's second
// convolution (16 channels, 32×32, 3×3 pad 1) and its adjoint.
func BenchmarkIm2colCol2im(b *testing.B) {
	g := convGeom{n: 1, c: 16, h: 32, w: 32, o: 16, k: 3, pad: 1, dil: 1, ho: 32, wo: 32}
	x, col, dx := make([]float32, g.c*g.h*g.w), make([]float32, g.ckk()*g.h*g.w), make([]float32, g.c*g.h*g.w)
	for i := range x {
		x[i] = float32(i%13) - 6
	}
	b.Run("im2col", func(b *testing.B) {
		for range b.N {
			im2col(g, col, x)
		}
	})
	b.Run("col2im", func(b *testing.B) {
		for range b.N {
			col2im(g, dx, col)
		}
	})
}
