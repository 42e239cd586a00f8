package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestConvBiasFusedBits compares a convOp with its bias (and ReLU) fused in
// with a convOp followed by a biasOp, the output and the gradients of x, w
// and b bit for bit, on ragged sizes (sides that are not multiples of the
// tiles or vectors), 3×3 and dilated and 1×1 kernels, with and without
// ReLU and with and without the input's gradient, in float32 and float64.
func TestConvBiasFusedBits(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	type geom struct{ n, c, o, h, w, k, dil int }
	for _, gm := range []geom{{3, 2, 5, 7, 9, 3, 1}, {2, 3, 17, 11, 5, 3, 2}, {1, 1, 3, 13, 13, 1, 1}, {2, 4, 33, 6, 10, 3, 1}} {
		for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
			for _, relu := range []bool{true, false} {
				for _, noDX := range []bool{true, false} {
					name := fmt.Sprintf("%v/%v/relu=%v/nodx=%v", gm, dt, relu, noDX)
					pad := gm.dil * (gm.k - 1) / 2
					xs, ws := []int{gm.n, gm.c, gm.h, gm.w}, []int{gm.o, gm.c, gm.k, gm.k}
					xv, wv, bv := randVals(r, dt, xs...), randVals(r, dt, ws...), randVals(r, dt, gm.o)
					mv := randVals(r, dt, gm.n, gm.o, gm.h, gm.w) // the loss is Σ m·y
					run := func(fused bool) [][]byte {
						g := G.NewGraph()
						x := G.NewTensor(g, dt, 4, G.WithShape(xs...), G.WithValue(tensor.New(tensor.WithShape(xs...), tensor.WithBacking(clone(xv)))), G.WithName("x"))
						w := G.NewTensor(g, dt, 4, G.WithShape(ws...), G.WithValue(tensor.New(tensor.WithShape(ws...), tensor.WithBacking(clone(wv)))), G.WithName("w"))
						b := G.NewVector(g, dt, G.WithShape(gm.o), G.WithValue(tensor.New(tensor.WithShape(gm.o), tensor.WithBacking(clone(bv)))), G.WithName("b"))
						var y *G.Node
						if fused {
							y = G.Must(G.ApplyOp(newConvBias(gm.k, pad, gm.dil, noDX, relu, nil), x, w, b))
						} else {
							y = G.Must(G.ApplyOp(newBias(relu, nil), G.Must(G.ApplyOp(newConv(gm.k, pad, gm.dil, noDX, nil), x, w)), b))
						}
						m := G.NewTensor(g, dt, 4, G.WithShape(y.Shape()...), G.WithValue(tensor.New(tensor.WithShape(y.Shape()...), tensor.WithBacking(clone(mv)))), G.WithName("m"))
						cost := G.Must(G.Sum(G.Must(G.HadamardProd(y, m))))
						wrt := G.Nodes{w, b}
						if !noDX {
							wrt = append(wrt, x)
						}
						if _, err := G.Grad(cost, wrt...); err != nil {
							t.Fatal(err)
						}
						vm := G.NewTapeMachine(g)
						defer vm.Close()
						if err := vm.RunAll(); err != nil {
							t.Fatal(err)
						}
						out := [][]byte{valueBits(y.Value())}
						for _, n := range wrt {
							gv, err := n.Grad()
							if err != nil {
								t.Fatal(err)
							}
							out = append(out, valueBits(gv))
						}
						return out
					}
					want, got := run(false), run(true)
					for i := range want {
						if !slices.Equal(got[i], want[i]) {
							t.Errorf("%s: %s differs from the unfused ops'", name, []string{"output", "dw", "db", "dx"}[i])
						}
					}
				}
			}
		}
	}
}

// randVals returns normal values of type dt for the given shape, a third
// of them negative zero or small, so that ReLUs see both signs and ties.
func randVals(r *rand.Rand, dt tensor.Dtype, shape ...int) any {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		switch r.IntN(6) {
		case 0:
			v[i] = math.Copysign(0, -1)
		case 1:
			v[i] = 1e-3 * r.NormFloat64()
		default:
			v[i] = r.NormFloat64()
		}
	}
	if dt == tensor.Float64 {
		return v
	}
	f := make([]float32, n)
	for i, x := range v {
		f[i] = float32(x)
	}
	return f
}

func clone(v any) any {
	switch v := v.(type) {
	case []float32:
		return slices.Clone(v)
	case []float64:
		return slices.Clone(v)
	}
	panic(fmt.Sprintf("clone: %T", v))
}

// valueBits is a value's elements as little-endian bytes.
func valueBits(v G.Value) []byte {
	var out []byte
	switch d := v.Data().(type) {
	case []float32:
		for _, x := range d {
			u := math.Float32bits(x)
			out = append(out, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
		}
	case []float64:
		for _, x := range d {
			u := math.Float64bits(x)
			for s := 0; s < 64; s += 8 {
				out = append(out, byte(u>>s))
			}
		}
	}
	return out
}
