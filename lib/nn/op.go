package nn

import (
	"fmt"
	"hash"
	"hash/fnv"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds what the graph operations written here instead of taken
// from gorgonia share; each op, with its backward ops, has a file of its
// own: conv.go, linear.go, bias.go (bias + ReLU), upsample.go, concat.go and
// xent.go (softmax cross-entropy). gorgonia's own versions are either slow
// (per-element At/SetAt upsampling, a goroutine per softmax row,
// broadcasting by materialized repeats) or numerically careless (its
// softmax subtracts the first element of the whole tensor, not the row
// maximum). Each op is paired with an explicit backward op and checked
// against finite differences in the tests.
//
// Tensors are laid out as [N, C, S...] and the ops treat every trailing
// dimension as one flat spatial axis of size S. Type variables in the ops'
// Type methods avoid the letter b, which gorgonia's type inference reserves
// for the return type.

// float is the element type the kernels are generic over.
type float interface{ ~float32 | ~float64 }

// opBase carries the boilerplate shared by the custom ops.
type opBase struct {
	name  string
	arity int
}

func (o opBase) Arity() int            { return o.arity }
func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) String() string        { return o.name }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o opBase) Hashcode() uint32      { h := fnv.New32a(); o.WriteHash(h); return h.Sum32() }

// args unpacks the op's input values as dense tensors, vs[i] into *ins[i]
// for each i: the one place the ops' Do and UsePreallocDo methods read
// their inputs.
func (o opBase) args(vs []G.Value, ins ...**tensor.Dense) error {
	if len(vs) < len(ins) {
		return fmt.Errorf("%s: %d inputs, want %d", o.name, len(vs), len(ins))
	}
	for i, p := range ins {
		d, ok := vs[i].(*tensor.Dense)
		if !ok {
			return fmt.Errorf("%s: input %d is %T, not a dense tensor", o.name, i, vs[i])
		}
		*p = d
	}
	return nil
}

// output unpacks the preallocated output value UsePreallocDo receives.
func (o opBase) output(pre G.Value) (*tensor.Dense, error) {
	d, ok := pre.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("%s: output is %T, not a dense tensor", o.name, pre)
	}
	return d, nil
}

func (o opBase) sameShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("%s: input shape is %T, not a shape", o.name, in[0])
	}
	return s.Clone(), nil
}

// dims splits a [N, C, S...] shape into N, C and the product S.
func dims(s tensor.Shape) (n, c, sp int) {
	n, c, sp = s[0], 1, 1
	if len(s) > 1 {
		c = s[1]
	}
	for _, d := range s[2:] {
		sp *= d
	}
	return n, c, sp
}

func dense(v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("value is %T, not a dense tensor", v)
	}
	return d, nil
}

// scalarOf reads a scalar value in whichever form gorgonia passes it.
func scalarOf(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F64:
		return float64(*s), nil
	case *G.F32:
		return float64(*s), nil
	case *tensor.Dense:
		switch d := s.Data().(type) {
		case float64:
			return d, nil
		case float32:
			return float64(d), nil
		case []float64:
			if len(d) == 1 {
				return d[0], nil
			}
		case []float32:
			if len(d) == 1 {
				return float64(d[0]), nil
			}
		}
	}
	return 0, fmt.Errorf("value %T is not a scalar", v)
}
