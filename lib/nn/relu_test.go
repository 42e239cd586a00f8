package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestReLUVectorBits checks that addReLU and reluMask32 (vector code where
// the CPU has it) give the bits of their Go loops, on every length around
// the vector width and on the values where a ReLU can go wrong: ±0,
// subnormals of both signs, ±infinity and NaN.
func TestReLUVectorBits(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(1), math.Float32frombits(0x80000001),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00001), 1e-30, -1e-30}
	rng := rand.New(rand.NewPCG(5, 6))
	val := func() float32 {
		if rng.IntN(3) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64())
	}
	same := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				return false
			}
		}
		return true
	}
	for n := 0; n < 70; n++ {
		x, g := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], g[i] = val(), val()
		}
		for _, b := range []float32{0, float32(math.Copysign(0, -1)), 0.25, -0.25, math.Float32frombits(1)} {
			got, want := make([]float32, n), make([]float32, n)
			addReLU(got, x, b)
			addReLUGo(want, x, b)
			if !same(got, want) {
				t.Fatalf("addReLU n=%d b=%g: %v, want %v", n, b, got, want)
			}
		}
		got, want := make([]float32, n), make([]float32, n)
		reluMask32(got, x, g)
		reluMaskGo(want, x, g)
		if !same(got, want) {
			t.Fatalf("reluMask32 n=%d: %v, want %v", n, got, want)
		}
	}
}

// BenchmarkBiasReLU is the bias + ReLU of fcn64's first conv output
// (batch 32, 32 channels, 64×64) and its backward mask, one thread.
func BenchmarkBiasReLU(b *testing.B) {
	n, c, s := 32, 32, 64*64
	rng := rand.New(rand.NewPCG(7, 8))
	x, g, y, d := make([]float32, n*c*s), make([]float32, n*c*s), make([]float32, n*c*s), make([]float32, n*c*s)
	bias := make([]float32, c)
	for i := range x {
		x[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	for i := range bias {
		bias[i] = float32(rng.NormFloat64() * 0.1)
	}
	b.ResetTimer()
	for range b.N {
		biasReLU32(y, x, bias, 0, n, c, s)
		reluMask32(d, y, g)
	}
}

// TestTransposeShapes checks transpose (8×8 vector blocks where the CPU has
// them, Go edges) against the definition on shapes around the block sizes.
func TestTransposeShapes(t *testing.T) {
	for _, rows := range []int{1, 7, 8, 9, 16, 23, 64} {
		for _, cols := range []int{1, 5, 8, 13, 64, 65, 130} {
			src := make([]float32, rows*cols)
			for i := range src {
				src[i] = float32(i) + 0.5
			}
			dst := make([]float32, rows*cols)
			transpose(dst, src, rows, cols)
			for i := 0; i < rows; i++ {
				for j := 0; j < cols; j++ {
					if dst[j*rows+i] != src[i*cols+j] {
						t.Fatalf("%d×%d: dst[%d][%d] = %g, want %g", rows, cols, j, i, dst[j*rows+i], src[i*cols+j])
					}
				}
			}
		}
	}
}

// BenchmarkTranspose is one image of fcn64's output gradient [32, 64·64]
// transposed, one thread.
func BenchmarkTranspose(b *testing.B) {
	rows, cols := 32, 64*64
	src, dst := make([]float32, rows*cols), make([]float32, rows*cols)
	for i := range src {
		src[i] = float32(i)
	}
	b.ResetTimer()
	for range b.N {
		transpose(dst, src, rows, cols)
	}
}

// TestBiasSumOrder checks that biasSum, which sums four images at a time,
// gives the bits of one chain per image added to the channel's total in
// image order, on batch sizes around the group of four.
func TestBiasSumOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for n := 0; n < 10; n++ {
		for _, cs := range [][2]int{{1, 1}, {3, 5}, {2, 17}} {
			c, s := cs[0], cs[1]
			g := make([]float32, n*c*s)
			for i := range g {
				g[i] = float32(rng.NormFloat64()) * float32(math.Pow(10, float64(rng.IntN(9)-4)))
			}
			got := make([]float32, c)
			biasSum(got, g, n, c, s)
			for k := 0; k < c; k++ {
				var acc float64
				for i := 0; i < n; i++ {
					var sum float64
					for _, v := range g[(i*c+k)*s : (i*c+k+1)*s] {
						sum += float64(v)
					}
					acc += sum
				}
				if math.Float32bits(got[k]) != math.Float32bits(float32(acc)) {
					t.Fatalf("n=%d c=%d s=%d channel %d: %v, want %v", n, c, s, k, got[k], float32(acc))
				}
			}
		}
	}
}

// TestXentVectorBits checks that maxInto, widenAdd, xentGrad and
// nonzeroMasks (vector code where the CPU has it) give the bits of their
// Go loops, and xentLossRow those of the plain loss loop, on lengths
// around the vector width and on ±0, subnormals, infinities and NaNs of
// several payloads (max(−0, +0), NaN against NaN, zero target masses).
func TestXentVectorBits(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(1), math.Float32frombits(0x80000001),
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(0x7fa00000), 1e30, -1e-30}
	rng := rand.New(rand.NewPCG(17, 18))
	val := func() float32 {
		if rng.IntN(2) == 0 {
			return special[rng.IntN(len(special))]
		}
		return float32(rng.NormFloat64())
	}
	// Equal bits, except that a NaN matches any NaN: when both operands of
	// an add are NaN, x86 returns the first one's, and which operand the
	// compiler puts first in the Go loops is its choice (it differs under
	// -race), so the payload is not the loops' to define.
	same32 := func(a, b []float32) bool {
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return false
			}
		}
		return true
	}
	same64 := func(a, b []float64) bool {
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
				return false
			}
		}
		return true
	}
	for n := 0; n < 45; n++ {
		x, y, q := make([]float32, n), make([]float32, n), make([]float32, n)
		acc, sc, ts := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range x {
			x[i], y[i], q[i] = val(), val(), val()
			acc[i], sc[i] = float64(val()), float64(val())
			if rng.IntN(3) > 0 {
				ts[i] = float64(val())
			}
		}
		got, want := slices.Clone(x), slices.Clone(x)
		maxInto(got, y)
		maxIntoGo(want, y)
		if !same32(got, want) {
			t.Fatalf("maxInto n=%d: %v, want %v", n, got, want)
		}
		got64, want64 := slices.Clone(acc), slices.Clone(acc)
		widenAdd(got64, y)
		widenAddGo(want64, y)
		if !same64(got64, want64) {
			t.Fatalf("widenAdd n=%d: %v, want %v", n, got64, want64)
		}
		nz, nzGo := make([]uint8, n/8), make([]uint8, n/8)
		nonzeroMasks(nz, y)
		nonzeroMasksGo(nzGo, y)
		if !slices.Equal(nz, nzGo) {
			t.Fatalf("nonzeroMasks n=%d: %08b, want %08b", n, nz, nzGo)
		}
		// Sparse targets, as one class's pixels are.
		tk := make([]float32, n)
		for i := range tk {
			if rng.IntN(4) == 0 {
				tk[i] = val()
			}
		}
		wantLoss := 0.5
		for p, tv := range tk {
			if tv != 0 && ts[p] != 0 {
				wantLoss -= float64(tv) * (float64(q[p]-x[p]) - acc[p])
			}
		}
		if l := xentLossRow(0.5, q, tk, x, ts, acc, make([]uint8, n/8)); !same64([]float64{l}, []float64{wantLoss}) {
			t.Fatalf("xentLossRow n=%d: %v, want %v", n, l, wantLoss)
		}
		got, want = slices.Clone(q), slices.Clone(q)
		xentGrad(got, y, sc, ts)
		xentGradGo(want, y, sc, ts)
		if !same32(got, want) {
			t.Fatalf("xentGrad n=%d: %v, want %v", n, got, want)
		}
	}
}

// TestXentBlockPaths compares xentForward32, whose blocks of 8 pixels or
// more take the vector path, with every block done by xentBlockGo, the
// gradient and both losses of a split batch bit for bit, on spatial sizes
// below, at and around the vector width and the block length, with sparse
// weighted one-hot targets and pixels without any.
func TestXentBlockPaths(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, s := range []int{1, 5, 8, 13, 256, 300} {
		const n, c, r = 3, 7, 2
		z, tg := make([]float32, n*c*s), make([]float32, n*c*s)
		for i := range z {
			z[i] = float32(rng.NormFloat64() * 3)
		}
		for i := 0; i < n; i++ {
			for p := 0; p < s; p++ {
				if rng.IntN(5) > 0 {
					tg[(i*c+rng.IntN(c))*s+p] = rng.Float32()
				}
			}
		}
		q := make([]float32, len(z))
		la, lb := xentForward32(q, z, tg, n, c, s, r, 0, &xentCache{})
		want := make([]float32, len(z))
		losses := make([]float64, n)
		sc := new(xentScratch)
		for i := 0; i < n; i++ {
			base := i * c * s
			for p0 := 0; p0 < s; p0 += xentBlock {
				b := min(xentBlock, s-p0)
				mx, ts, se := sc.mx[:b], sc.ts[:b], sc.se[:b]
				copy(mx, z[base+p0:base+p0+b])
				clear(ts)
				clear(se)
				losses[i] = xentBlockGo(losses[i], z[base:base+c*s], tg[base:base+c*s], want[base:base+c*s], c, s, p0, mx, ts, se, sc.logse[:b])
			}
		}
		wa, wb := sumParts(losses, r)
		if math.Float64bits(la) != math.Float64bits(wa) || math.Float64bits(lb) != math.Float64bits(wb) {
			t.Errorf("s=%d: losses %v, %v, want %v, %v", s, la, lb, wa, wb)
		}
		for i := range q {
			if math.Float32bits(q[i]) != math.Float32bits(want[i]) {
				t.Errorf("s=%d: gradient %d is %v, want %v", s, i, q[i], want[i])
				break
			}
		}
	}
}
