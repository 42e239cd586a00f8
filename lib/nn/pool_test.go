package nn

import (
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
		y2, d2 := run(func(x *G.Node) (*G.Node, error) { return G.ApplyOp(newPool2(), x) })
		if !slices.Equal(y1, y2) {
			t.Errorf("%v: pooled values differ:\n%v\n%v", s, y1, y2)
		}
		if !slices.Equal(d1, d2) {
			t.Errorf("%v: gradients differ:\n%v\n%v", s, d1, d2)
		}
	}
}
