package bsgal

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestGradCacheSequences(t *testing.T) {
	gs := [][]float32{{1, 2}, {3, -1}, {0, 4}}
	tests := []struct {
		mode CacheMode
		m    float64
		want [][]float64 // c after each update, worked by hand
	}{
		// first update copies g; then 0.1·c + 0.9·g:
		// [0.1+2.7, 0.2−0.9] = [2.8, −0.7]; [0.28+0, −0.07+3.6] = [0.28, 3.53]
		{Momentum, 0.1, [][]float64{{1, 2}, {2.8, -0.7}, {0.28, 3.53}}},
		// m = 0.5: [2, 0.5]; [1, 2.25]
		{Momentum, 0.5, [][]float64{{1, 2}, {2, 0.5}, {1, 2.25}}},
		// running mean of the gradients so far: [2, 0.5]; [4/3, 5/3]
		{Average, 0, [][]float64{{1, 2}, {2, 0.5}, {4.0 / 3, 5.0 / 3}}},
	}
	for _, tt := range tests {
		c, err := NewGradCache(tt.mode, tt.m)
		if err != nil {
			t.Fatal(err)
		}
		if c.Mode() != tt.mode || c.Momentum() != tt.m {
			t.Errorf("cache reports mode %q m %v, want %q %v", c.Mode(), c.Momentum(), tt.mode, tt.m)
		}
		if c.Vector() != nil {
			t.Errorf("%s: empty cache Vector = %v, want nil", tt.mode, c.Vector())
		}
		for step, g := range gs {
			if err := c.Update(g); err != nil {
				t.Fatal(err)
			}
			got := c.Vector()
			for i, w := range tt.want[step] {
				if math.Abs(float64(got[i])-w) > 1e-6 {
					t.Errorf("%s m=%v step %d: c[%d] = %v, want %v", tt.mode, tt.m, step, i, got[i], w)
				}
			}
			if c.Steps() != step+1 {
				t.Errorf("Steps() = %d, want %d", c.Steps(), step+1)
			}
		}
	}
}

func TestGradCacheAverageIsMean(t *testing.T) {
	// The float64 state keeps a long running average equal to the plain mean.
	c, _ := NewGradCache(Average, 0)
	var sum float64
	const n = 10000
	for i := 0; i < n; i++ {
		v := float32(i%7) * 0.1
		sum += float64(v)
		if err := c.Update([]float32{v}); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := float64(c.Vector()[0]), sum/n; math.Abs(got-want) > 1e-6 {
		t.Errorf("average of %d updates = %v, want %v", n, got, want)
	}
}

func TestGradCacheErrors(t *testing.T) {
	if _, err := NewGradCache("ema", 0.1); err == nil || !strings.Contains(err.Error(), `"ema"`) {
		t.Errorf("unknown mode: err = %v, want one naming %q", err, "ema")
	}
	for _, m := range []float64{-0.1, 1, math.NaN()} {
		if _, err := NewGradCache(Momentum, m); err == nil {
			t.Errorf("momentum %v: no error", m)
		}
	}
	c, _ := NewGradCache(Momentum, 0.1)
	if err := c.Update([]float32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Update([]float32{1, 2, 3}); err == nil {
		t.Error("length change: no error")
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := c.Update([]float32{1, float32(bad)}); err == nil || !strings.Contains(err.Error(), "entry 1") {
			t.Errorf("%v in the gradient: error %v, want one naming entry 1", bad, err)
		}
	}
	if got := c.Vector(); got[0] != 1 || got[1] != 2 || c.Steps() != 1 {
		t.Errorf("rejected updates changed the cache: %v after %d steps", got, c.Steps())
	}
	// Large finite entries are fine.
	if err := c.Update([]float32{math.MaxFloat32, -math.MaxFloat32}); err != nil {
		t.Errorf("finite gradient rejected: %v", err)
	}
}

// TestUpdateScoreBits checks the fused pass against Update then Score, bit
// for bit, in both modes, on lengths that do and do not fill its lanes, and
// that Vector gives the same estimate afterwards.
func TestUpdateScoreBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, mode := range []CacheMode{Momentum, Average} {
		for _, n := range []int{1, 3, 4, 7, 1001} {
			a, _ := NewGradCache(mode, 0.1)
			b, _ := NewGradCache(mode, 0.1)
			for step := range 6 {
				g, gen := make([]float32, n), make([]float32, n)
				for i := range g {
					g[i], gen[i] = float32(r.NormFloat64()), float32(r.NormFloat64()*(1+float64(step)))
				}
				norm := step%2 == 0
				if err := a.Update(g); err != nil {
					t.Fatal(err)
				}
				want := Score(a.Vector(), gen, norm)
				got, err := b.UpdateScore(g, gen, norm)
				if err != nil {
					t.Fatal(err)
				}
				if math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("%s n=%d step %d: fused score %v, separate %v", mode, n, step, got, want)
				}
				if !slices.Equal(a.Vector(), b.Vector()) || a.Steps() != b.Steps() {
					t.Fatalf("%s n=%d step %d: estimates differ", mode, n, step)
				}
			}
		}
	}
	c, _ := NewGradCache(Momentum, 0.1)
	if _, err := c.UpdateScore([]float32{1, 2}, []float32{1}, true); err == nil {
		t.Error("lengths differ: no error")
	}
	if _, err := c.UpdateScore([]float32{1, float32(math.Inf(1))}, []float32{1, 2}, true); err == nil || c.Steps() != 0 {
		t.Errorf("Inf in the gradient: error %v, %d steps", err, c.Steps())
	}
}

// BenchmarkUpdateScore compares the fused cache update and score with
// Update then Score, on a gradient the size of table1's MLP (101,770
// parameters), in one run.
func BenchmarkUpdateScore(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	g, gen := make([]float32, 101_770), make([]float32, 101_770)
	for i := range g {
		g[i], gen[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	b.Run("fused", func(b *testing.B) {
		c, _ := NewGradCache(Momentum, 0.1)
		for b.Loop() {
			s, err := c.UpdateScore(g, gen, true)
			if err != nil {
				b.Fatal(err)
			}
			sink = s
		}
	})
	b.Run("separate", func(b *testing.B) {
		c, _ := NewGradCache(Momentum, 0.1)
		for b.Loop() {
			if err := c.Update(g); err != nil {
				b.Fatal(err)
			}
			sink = Score(c.Vector(), gen, true)
		}
	})
}

// TestMomentumScoreVectorBits checks UpdateScore's momentum loop where the
// CPU runs it four lanes at a time against the scalar loop, bit for bit:
// the new estimates and every lane's sums, on lengths from 4 to thousands,
// several momenta, and entries that are large, tiny (subnormal once
// rounded to float32), zero of either sign or ordinary.
func TestMomentumScoreVectorBits(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	draw := func() float32 {
		switch r.IntN(8) {
		case 0:
			return float32(r.NormFloat64() * 1e30)
		case 1:
			return float32(r.NormFloat64() * 1e-40)
		case 2:
			return float32(math.Copysign(0, r.NormFloat64()))
		default:
			return float32(r.NormFloat64())
		}
	}
	for _, n := range []int{4, 8, 12, 100, 4096} {
		for _, m := range []float64{0, 0.1, 0.5, 0.999} {
			cc := make([]float64, n)
			for i := range cc {
				cc[i] = float64(draw()) * (1 + r.Float64())
			}
			g, y := make([]float32, n), make([]float32, n)
			for i := range g {
				g[i], y[i] = draw(), draw()
			}
			start := lanes{d0: 1, a1: 2, b3: 3} // sums that already hold something
			want, got := slices.Clone(cc), slices.Clone(cc)
			lw, lg := start, start
			momentumScoreGo(want, g, y, m, 1-m, &lw)
			momentumScore(got, g, y, m, 1-m, &lg)
			for i := range want {
				if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
					t.Fatalf("n=%d m=%v: estimate %d is %v, scalar %v", n, m, i, got[i], want[i])
				}
			}
			for i, v := range []float64{lw.d0, lw.d1, lw.d2, lw.d3, lw.a0, lw.a1, lw.a2, lw.a3, lw.b0, lw.b1, lw.b2, lw.b3} {
				u := []float64{lg.d0, lg.d1, lg.d2, lg.d3, lg.a0, lg.a1, lg.a2, lg.a3, lg.b0, lg.b1, lg.b2, lg.b3}[i]
				if math.Float64bits(u) != math.Float64bits(v) {
					t.Fatalf("n=%d m=%v: lane sum %d is %v, scalar %v", n, m, i, u, v)
				}
			}
		}
	}
}

// TestNonFinite checks the vector test for ±Inf and NaN against the
// scalar one, with the bad entry at every position of short and long
// vectors, and on vectors without one (largest finite values included).
func TestNonFinite(t *testing.T) {
	bad := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), math.Float32frombits(0xffc00001)}
	for _, n := range []int{1, 7, 8, 9, 33} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i) - math.MaxFloat32*float32(i%2)
		}
		if nonFinite(x) || nonFiniteGo(x) {
			t.Fatalf("n=%d: finite vector reported", n)
		}
		for i := range x {
			for _, b := range bad {
				v := x[i]
				x[i] = b
				if !nonFinite(x) || !nonFiniteGo(x) {
					t.Fatalf("n=%d: %v at %d missed", n, b, i)
				}
				x[i] = v
			}
		}
	}
}
