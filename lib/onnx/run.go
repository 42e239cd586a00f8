package onnx

import (
	"fmt"
	"slices"

	ort "github.com/yalue/onnxruntime_go"
)

// Tensor is a named dense tensor in Go memory. Exactly one of the data
// slices is set; its length is the product of Shape.
type Tensor struct {
	Name  string
	Shape []int64
	F32   []float32
	I64   []int64
	I32   []int32
}

// F32 wraps float32 data as a tensor named name.
func F32(name string, data []float32, shape ...int64) Tensor {
	return Tensor{Name: name, Shape: shape, F32: data}
}

// I64 wraps int64 data as a tensor named name.
func I64(name string, data []int64, shape ...int64) Tensor {
	return Tensor{Name: name, Shape: shape, I64: data}
}

// I32 wraps int32 data as a tensor named name.
func I32(name string, data []int32, shape ...int64) Tensor {
	return Tensor{Name: name, Shape: shape, I32: data}
}

// Type is the element type name of the set data slice.
func (t Tensor) Type() string {
	switch {
	case t.F32 != nil:
		return "float32"
	case t.I64 != nil:
		return "int64"
	case t.I32 != nil:
		return "int32"
	}
	return ""
}

func (t Tensor) len() int {
	switch {
	case t.F32 != nil:
		return len(t.F32)
	case t.I64 != nil:
		return len(t.I64)
	}
	return len(t.I32)
}

// Run feeds one tensor per model input (matched by name, any order) and
// returns every output in the model's order, copied into Go memory.
// Outputs must be float32, int64 or int32 tensors.
func (m *Model) Run(in ...Tensor) ([]Tensor, error) {
	if m.sess == nil {
		return nil, fmt.Errorf("onnx model %q: run on a closed model", m.path)
	}
	if len(in) != len(m.inputs) {
		return nil, fmt.Errorf("onnx model %q: run with %d inputs, the model takes %d (%s)", m.path, len(in), len(m.inputs), quoteNames(m.inputs))
	}
	values := make([]ort.Value, len(m.inputs))
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for _, t := range in {
		i := slices.IndexFunc(m.inputs, func(x Info) bool { return x.Name == t.Name })
		if i < 0 {
			return nil, fmt.Errorf("onnx model %q has no input %q (it has %s)", m.path, t.Name, quoteNames(m.inputs))
		}
		if values[i] != nil {
			return nil, fmt.Errorf("onnx model %q: input %q given twice", m.path, t.Name)
		}
		info := m.inputs[i]
		if t.Type() != info.Type {
			return nil, fmt.Errorf("onnx model %q: input %q holds %s, given %s", m.path, t.Name, info.Type, t.Type())
		}
		if !ShapeMatches(info.Shape, t.Shape) {
			return nil, fmt.Errorf("onnx model %q: input %q has shape %s, given %s", m.path, t.Name, shapeString(info.Shape), shapeString(t.Shape))
		}
		n := int64(1)
		for _, d := range t.Shape {
			n *= d
		}
		if n != int64(t.len()) || n == 0 {
			return nil, fmt.Errorf("onnx model %q: input %q: shape %s needs %d elements, given %d", m.path, t.Name, shapeString(t.Shape), n, t.len())
		}
		v, err := newValue(t)
		if err != nil {
			return nil, fmt.Errorf("onnx model %q: input %q: %w", m.path, t.Name, err)
		}
		values[i] = v
	}
	outs := make([]ort.Value, len(m.outputs))
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := m.sess.Run(values, outs); err != nil {
		return nil, fmt.Errorf("onnx model %q: run: %w", m.path, err)
	}
	res := make([]Tensor, len(outs))
	for i, v := range outs {
		t := Tensor{Name: m.outputs[i].Name, Shape: slices.Clone([]int64(v.GetShape()))}
		switch x := v.(type) {
		case *ort.Tensor[float32]:
			t.F32 = slices.Clone(x.GetData())
		case *ort.Tensor[int64]:
			t.I64 = slices.Clone(x.GetData())
		case *ort.Tensor[int32]:
			t.I32 = slices.Clone(x.GetData())
		default:
			return nil, fmt.Errorf("onnx model %q: output %q is %s; only float32, int64 and int32 tensors are supported", m.path, t.Name, m.outputs[i].Type)
		}
		res[i] = t
	}
	return res, nil
}

func newValue(t Tensor) (ort.Value, error) {
	s := ort.NewShape(t.Shape...)
	switch {
	case t.F32 != nil:
		return ort.NewTensor(s, slices.Clone(t.F32))
	case t.I64 != nil:
		return ort.NewTensor(s, slices.Clone(t.I64))
	}
	return ort.NewTensor(s, slices.Clone(t.I32))
}
