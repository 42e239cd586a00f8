package nn

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestPool2MatchesGorgonia compares pool2Op with gorgonia's MaxPool2D, value
// and gradient bit for bit, on inputs full of ties (a few distinct values,
// zeros as after a ReLU) and with odd sides.
func TestPool2MatchesGorgonia(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range [][4]int{{2, 3, 4, 6}, {1, 2, 5, 7}, {3, 1, 8, 8}} {
		n := s[0] * s[1] * s[2] * s[3]
		xv, gv := make([]float32, n), make([]float32, n/4+s[0]*s[1]*s[2]*s[3])
		for i := range xv {
			xv[i] = float32(max(0, r.IntN(5)-2)) // 0, 0, 0, 1, 2
		}
		for i := range gv {
			gv[i] = float32(r.NormFloat64())
		}
		run := func(pool func(*G.Node) (*G.Node, error)) (y, dx []float32) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float32, 4, G.WithShape(s[0], s[1], s[2], s[3]), G.WithValue(tensor.New(tensor.WithShape(s[0], s[1], s[2], s[3]), tensor.WithBacking(slices.Clone(xv)))), G.WithName("x"))
			p, err := pool(x)
			if err != nil {
				t.Fatal(err)
			}
			ps := p.Shape()
			m := G.NewTensor(g, tensor.Float32, 4, G.WithShape(ps...), G.WithValue(tensor.New(tensor.WithShape(ps...), tensor.WithBacking(slices.Clone(gv[:ps.TotalSize()])))), G.WithName("m"))
			cost := G.Must(G.Sum(G.Must(G.HadamardProd(p, m))))
			if _, err := G.Grad(cost, x); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			gx, err := x.Grad()
			if err != nil {
				t.Fatal(err)
			}
			return slices.Clone(p.Value().Data().([]float32)), slices.Clone(gx.Data().([]float32))
		}
		y1, d1 := run(func(x *G.Node) (*G.Node, error) {
			return G.MaxPool2D(x, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2})
		})
		y2, d2 := run(func(x *G.Node) (*G.Node, error) { return G.ApplyOp(newPool2(nil), x) })
		if !slices.Equal(y1, y2) {
			t.Errorf("%v: pooled values differ:\n%v\n%v", s, y1, y2)
		}
		if !slices.Equal(d1, d2) {
			t.Errorf("%v: gradients differ:\n%v\n%v", s, d1, d2)
		}
	}
}

// TestPool2VectorBits compares maxPool2 on float32 (eight windows at a
// time where the CPU has AVX2, rows of fewer windows through a padded
// copy, the last block overlapping) with pool2Windows alone, values and
// gradients bit for bit, on widths around the vector width, odd sides, and
// windows full of ties, zeros of both signs, −MaxFloat32, infinities and
// NaNs.
func TestPool2VectorBits(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, -math.MaxFloat32, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.Float32frombits(0xffc00001), math.Float32frombits(1)}
	r := rand.New(rand.NewPCG(13, 14))
	val := func() float32 {
		if r.IntN(2) == 0 {
			return special[r.IntN(len(special))]
		}
		return float32(r.NormFloat64())
	}
	for _, hw := range [][2]int{{2, 2}, {2, 6}, {4, 14}, {3, 15}, {2, 16}, {3, 17}, {4, 18}, {4, 28}, {5, 33}, {2, 47}, {6, 64}, {7, 40}} {
		const planes = 3
		h, w := hw[0], hw[1]
		ho, wo := h/2, w/2
		x, gy := make([]float32, planes*h*w), make([]float32, planes*ho*wo)
		for i := range x {
			x[i] = val()
		}
		for i := range gy {
			gy[i] = val()
		}
		y, dx := make([]float32, len(gy)), make([]float32, len(x))
		for i := range dx {
			dx[i] = 7 // stale values must be overwritten
		}
		maxPool2(y, nil, x, nil, planes, h, w, -math.MaxFloat32)
		maxPool2(nil, dx, x, gy, planes, h, w, -math.MaxFloat32)
		wy, wdx := make([]float32, len(gy)), make([]float32, len(x))
		for p := 0; p < planes; p++ {
			for i := 0; i < ho; i++ {
				o := (p*ho + i) * wo
				pool2Windows(wy, wdx[p*h*w:(p+1)*h*w], x[p*h*w:(p+1)*h*w], gy, i, o, 0, wo, w, -math.MaxFloat32)
			}
		}
		for i := range y {
			if math.Float32bits(y[i]) != math.Float32bits(wy[i]) {
				t.Fatalf("%dx%d: output %d is %v, want %v", h, w, i, y[i], wy[i])
			}
		}
		for i := range dx {
			if math.Float32bits(dx[i]) != math.Float32bits(wdx[i]) {
				t.Fatalf("%dx%d: gradient %d is %v, want %v", h, w, i, dx[i], wdx[i])
			}
		}
	}
}

// TestUpDownVectorBits compares upsample2 and down2Sum on float32 (eight
// pixels at a time where the CPU has AVX2) with their definitions, bit for
// bit, on widths around the vector width and values with zeros of both
// signs, infinities and NaNs: the 2×2 repeat, and each block's sum
// ((a + b) + c) + d.
func TestUpDownVectorBits(t *testing.T) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 1e38, -1e38}
	r := rand.New(rand.NewPCG(25, 26))
	val := func() float32 {
		if r.IntN(3) == 0 {
			return special[r.IntN(len(special))]
		}
		return float32(r.NormFloat64())
	}
	for _, hw := range [][2]int{{1, 1}, {2, 7}, {3, 8}, {2, 9}, {4, 16}, {3, 23}, {2, 40}} {
		const planes = 3
		h, w := hw[0], hw[1]
		x := make([]float32, planes*h*w)
		g := make([]float32, planes*4*h*w)
		for i := range x {
			x[i] = val()
		}
		for i := range g {
			g[i] = val()
		}
		up, down := make([]float32, len(g)), make([]float32, len(x))
		upsample2(up, x, planes, h, w)
		down2Sum(down, g, planes, h, w)
		for p := 0; p < planes; p++ {
			for i := 0; i < 2*h; i++ {
				for j := 0; j < 2*w; j++ {
					got, want := up[(p*2*h+i)*2*w+j], x[(p*h+i/2)*w+j/2]
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%dx%d: upsampled %d,%d,%d is %v, want %v", h, w, p, i, j, got, want)
					}
				}
			}
			for i := 0; i < h; i++ {
				for j := 0; j < w; j++ {
					at := func(di, dj int) float32 { return g[(p*2*h+2*i+di)*2*w+2*j+dj] }
					want := at(0, 0) + at(0, 1)
					want += at(1, 0)
					want += at(1, 1)
					if got := down[(p*h+i)*w+j]; math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("%dx%d: block sum %d,%d,%d is %v, want %v", h, w, p, i, j, got, want)
					}
				}
			}
		}
	}
}
