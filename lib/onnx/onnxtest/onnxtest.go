// Package onnxtest writes small ONNX models by hand, so tests can build the
// exact networks they need (a Conv, a Sigmoid, a MatMul...) without any
// model file checked in or downloaded. It encodes ModelProto directly with
// protowire: IR version 8, default-domain opset 13.
//
// Invariant: Encode is deterministic — equal graphs give equal bytes.
package onnxtest

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"dagrun/lib/onnx"
)

// ONNX TensorProto element types used here.
const (
	ElemFloat = 1
	ElemInt32 = 6
	ElemInt64 = 7
)

// Graph is a model's graph: nodes in topological order, constant
// initializers, and the graph's inputs and outputs.
type Graph struct {
	Name    string
	Nodes   []Node
	Inits   []Tensor
	Inputs  []Value
	Outputs []Value
}

// Node is one operator application.
type Node struct {
	Op    string
	In    []string
	Out   []string
	Attrs []Attr
}

// Attr is a node attribute; build them with Int, Ints, Float and Floats.
type Attr struct {
	Name   string
	kind   int // AttributeProto.AttributeType
	i      int64
	f      float32
	ints   []int64
	floats []float32
}

// Int is an integer attribute.
func Int(name string, v int64) Attr { return Attr{Name: name, kind: 2, i: v} }

// Ints is an integer-list attribute.
func Ints(name string, v ...int64) Attr { return Attr{Name: name, kind: 7, ints: v} }

// Float is a float attribute.
func Float(name string, v float32) Attr { return Attr{Name: name, kind: 1, f: v} }

// Floats is a float-list attribute.
func Floats(name string, v ...float32) Attr { return Attr{Name: name, kind: 6, floats: v} }

// Tensor is a constant (initializer). Set Float for float data, or Int64
// for int64 data (Reshape shapes, Gather indices, ReduceMean axes).
type Tensor struct {
	Name  string
	Dims  []int64
	Float []float32
	Int64 []int64
}

// Value declares a graph input or output. Elem defaults to ElemFloat; a
// negative dim is symbolic (written as dim_param "d<i>").
type Value struct {
	Name  string
	Elem  int
	Shape []int64
}

// Op is shorthand for a node with one output.
func Op(op string, out string, in []string, attrs ...Attr) Node {
	return Node{Op: op, In: in, Out: []string{out}, Attrs: attrs}
}

// Encode returns the serialized ModelProto.
func Encode(g Graph) []byte {
	var m []byte
	m = protowire.AppendTag(m, 1, protowire.VarintType) // ir_version
	m = protowire.AppendVarint(m, 8)
	m = appendString(m, 2, "dagrun-onnxtest") // producer_name
	m = appendBytes(m, 7, encodeGraph(g))
	var opset []byte
	opset = appendString(opset, 1, "")
	opset = protowire.AppendTag(opset, 2, protowire.VarintType)
	opset = protowire.AppendVarint(opset, 13)
	m = appendBytes(m, 8, opset)
	return m
}

// Write encodes g into the file path.
func Write(path string, g Graph) error {
	return os.WriteFile(path, Encode(g), 0o644)
}

func encodeGraph(g Graph) []byte {
	var b []byte
	for _, n := range g.Nodes {
		b = appendBytes(b, 1, encodeNode(n))
	}
	name := g.Name
	if name == "" {
		name = "g"
	}
	b = appendString(b, 2, name)
	for _, t := range g.Inits {
		b = appendBytes(b, 5, encodeTensor(t))
	}
	for _, v := range g.Inputs {
		b = appendBytes(b, 11, encodeValue(v))
	}
	for _, v := range g.Outputs {
		b = appendBytes(b, 12, encodeValue(v))
	}
	return b
}

func encodeNode(n Node) []byte {
	var b []byte
	for _, s := range n.In {
		b = appendString(b, 1, s)
	}
	for _, s := range n.Out {
		b = appendString(b, 2, s)
	}
	if len(n.Out) > 0 {
		b = appendString(b, 3, n.Op+"_"+n.Out[0])
	}
	b = appendString(b, 4, n.Op)
	for _, a := range n.Attrs {
		b = appendBytes(b, 5, encodeAttr(a))
	}
	return b
}

func encodeAttr(a Attr) []byte {
	var b []byte
	b = appendString(b, 1, a.Name)
	switch a.kind {
	case 1:
		b = protowire.AppendTag(b, 2, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(a.f))
	case 2:
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(a.i))
	case 6:
		for _, f := range a.floats {
			b = protowire.AppendTag(b, 7, protowire.Fixed32Type)
			b = protowire.AppendFixed32(b, math.Float32bits(f))
		}
	case 7:
		for _, v := range a.ints {
			b = protowire.AppendTag(b, 8, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(v))
		}
	}
	b = protowire.AppendTag(b, 20, protowire.VarintType) // type
	b = protowire.AppendVarint(b, uint64(a.kind))
	return b
}

func encodeTensor(t Tensor) []byte {
	var b []byte
	for _, d := range t.Dims {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(d))
	}
	elem := ElemFloat
	if t.Int64 != nil {
		elem = ElemInt64
	}
	b = protowire.AppendTag(b, 2, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(elem))
	b = appendString(b, 8, t.Name)
	// raw_data: little-endian, the layout ONNX Runtime reads directly.
	var raw []byte
	if elem == ElemFloat {
		for _, f := range t.Float {
			raw = protowire.AppendFixed32(raw, math.Float32bits(f))
		}
	} else {
		for _, v := range t.Int64 {
			raw = protowire.AppendFixed64(raw, uint64(v))
		}
	}
	b = appendBytes(b, 9, raw)
	return b
}

func encodeValue(v Value) []byte {
	elem := v.Elem
	if elem == 0 {
		elem = ElemFloat
	}
	var shape []byte
	for i, d := range v.Shape {
		var dim []byte
		if d < 0 {
			dim = appendString(dim, 2, "d"+string(rune('0'+i)))
		} else {
			dim = protowire.AppendTag(dim, 1, protowire.VarintType)
			dim = protowire.AppendVarint(dim, uint64(d))
		}
		shape = appendBytes(shape, 1, dim)
	}
	var tt []byte
	tt = protowire.AppendTag(tt, 1, protowire.VarintType)
	tt = protowire.AppendVarint(tt, uint64(elem))
	tt = appendBytes(tt, 2, shape)
	var typ []byte
	typ = appendBytes(typ, 1, tt)
	var b []byte
	b = appendString(b, 1, v.Name)
	b = appendBytes(b, 2, typ)
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// Runtime loads ONNX Runtime for a test, looking from the test's working
// directory upwards (see onnx.FindLibrary). It skips the test, saying how
// to get the library, when the library is absent (`make test` fetches it
// first, so CI never skips).
func Runtime(t testing.TB) *onnx.Runtime {
	t.Helper()
	rt, err := onnx.Load(".")
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	return rt
}

// WriteModel encodes g into dir/name and returns the path.
func WriteModel(t testing.TB, dir, name string, g Graph) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := Write(p, g); err != nil {
		t.Fatal(err)
	}
	return p
}
