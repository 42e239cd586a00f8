package onnx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
)

// Options configure a session.
type Options struct {
	// IntraOpThreads is the number of threads one Run may use (0 means 1:
	// reproducible and fair to the scheduler's CPU budget).
	IntraOpThreads int
	// Outputs, when not nil, lists the indices of the model outputs the
	// session computes and Run returns, in that order; Model.Outputs then
	// describes only those. Big segmentation models have many side outputs
	// (ISNet: 12, some of 64×512×512) that are costly to copy.
	Outputs []int
}

// Info describes one model input or output.
type Info struct {
	Name string
	// Shape holds the dimensions; -1 marks a symbolic (dynamic) one.
	Shape []int64
	// Type is the element type: "float32", "int64", "int32", ... ("" for
	// values that are not tensors).
	Type string
}

// String formats i as `"name" type [dims]` for error messages.
func (i Info) String() string {
	return fmt.Sprintf("%q %s %v", i.Name, i.Type, i.Shape)
}

// Model is an open inference session on one model file.
type Model struct {
	path    string
	inputs  []Info
	outputs []Info
	sess    *ort.DynamicAdvancedSession
}

// Open checks that path is a readable, complete ONNX model and opens a
// session on it. Errors name the file and say what is wrong: missing,
// truncated or not an ONNX model, or rejected by the runtime.
func (r *Runtime) Open(path string, o Options) (*Model, error) {
	if r == nil || r.Path == "" {
		return nil, errNotLoaded
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("onnx model %q: file does not exist", path)
	}
	if err != nil {
		return nil, fmt.Errorf("onnx model %q: %w", path, err)
	}
	if err := CheckModelBytes(b); err != nil {
		return nil, fmt.Errorf("onnx model %q: %w", path, err)
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnx model %q: session options: %w", path, err)
	}
	defer opts.Destroy()
	threads := max(1, o.IntraOpThreads)
	if err := opts.SetIntraOpNumThreads(threads); err != nil {
		return nil, fmt.Errorf("onnx model %q: set threads: %w", path, err)
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, fmt.Errorf("onnx model %q: set threads: %w", path, err)
	}
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, fmt.Errorf("onnx model %q: the runtime rejects it: %w", path, err)
	}
	m := &Model{path: path, inputs: infos(ins), outputs: infos(outs)}
	if o.Outputs != nil {
		sel := make([]Info, len(o.Outputs))
		for i, k := range o.Outputs {
			if k < 0 || k >= len(m.outputs) {
				return nil, fmt.Errorf("onnx model %q: output %d requested, the model has %d (%s)", path, k, len(m.outputs), quoteNames(m.outputs))
			}
			sel[i] = m.outputs[k]
		}
		m.outputs = sel
	}
	sess, err := ort.NewDynamicAdvancedSession(path, names(m.inputs), names(m.outputs), opts)
	if err != nil {
		return nil, fmt.Errorf("onnx model %q: open session: %w", path, err)
	}
	m.sess = sess
	return m, nil
}

func infos(in []ort.InputOutputInfo) []Info {
	out := make([]Info, len(in))
	for i, x := range in {
		out[i] = Info{Name: x.Name, Shape: slices.Clone([]int64(x.Dimensions))}
		if x.OrtValueType == ort.ONNXTypeTensor {
			out[i].Type = typeName(x.DataType)
		}
	}
	return out
}

func typeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	}
	return strings.ToLower(t.String())
}

func names(in []Info) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.Name
	}
	return out
}

// CheckModelBytes reports whether b parses as a protobuf message with a
// graph field, the outer shape of an ONNX ModelProto; it catches truncated
// and foreign files before the runtime does, with a clearer message.
func CheckModelBytes(b []byte) error {
	if len(b) == 0 {
		return errors.New("file is empty, not an ONNX model")
	}
	graph := false
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return fmt.Errorf("not an ONNX model: bad protobuf tag at byte %d of %d (truncated or corrupt file?)", off, len(b))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if m < 0 {
			return fmt.Errorf("not an ONNX model: field %d at byte %d runs past the end of the file's %d bytes (truncated download?)", num, off, len(b))
		}
		if num == 7 && typ == protowire.BytesType {
			graph = true
		}
		off += n + m
	}
	if !graph {
		return errors.New("not an ONNX model: no graph in the file")
	}
	return nil
}

// Path is the model file the session was opened on.
func (m *Model) Path() string { return m.path }

// Inputs describes the model's inputs in order.
func (m *Model) Inputs() []Info { return slices.Clone(m.inputs) }

// Outputs describes the model's outputs in order.
func (m *Model) Outputs() []Info { return slices.Clone(m.outputs) }

// Input returns the input called name; "" picks the first input.
func (m *Model) Input(name string) (Info, error) {
	return m.find("input", m.inputs, name)
}

// Output returns the output called name; "" picks the first output.
func (m *Model) Output(name string) (Info, error) {
	return m.find("output", m.outputs, name)
}

func (m *Model) find(what string, list []Info, name string) (Info, error) {
	if len(list) == 0 {
		return Info{}, fmt.Errorf("onnx model %q has no %ss", m.path, what)
	}
	if name == "" {
		return list[0], nil
	}
	for _, x := range list {
		if x.Name == name {
			return x, nil
		}
	}
	return Info{}, fmt.Errorf("onnx model %q has no %s %q (it has %s)", m.path, what, name, quoteNames(list))
}

func quoteNames(list []Info) string {
	q := make([]string, len(list))
	for i, x := range list {
		q[i] = fmt.Sprintf("%q", x.Name)
	}
	return strings.Join(q, ", ")
}

// ExpectInput checks that the input called name exists, holds float32 or
// integer elements of type typ ("" accepts any) and has the shape want,
// where -1 (in want or in the model) matches any size.
func (m *Model) ExpectInput(name, typ string, want ...int64) error {
	in, err := m.Input(name)
	if err != nil {
		return err
	}
	return m.expect("input", in, typ, want)
}

// ExpectOutput is ExpectInput for outputs.
func (m *Model) ExpectOutput(name, typ string, want ...int64) error {
	out, err := m.Output(name)
	if err != nil {
		return err
	}
	return m.expect("output", out, typ, want)
}

func (m *Model) expect(what string, got Info, typ string, want []int64) error {
	if typ != "" && got.Type != typ {
		return fmt.Errorf("onnx model %q: %s %q holds %s, want %s", m.path, what, got.Name, got.Type, typ)
	}
	if !ShapeMatches(got.Shape, want) {
		return fmt.Errorf("onnx model %q: %s %q has shape %s, want %s", m.path, what, got.Name, shapeString(got.Shape), shapeString(want))
	}
	return nil
}

// ShapeMatches reports whether two shapes agree, -1 matching any size.
func ShapeMatches(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && a[i] >= 0 && b[i] >= 0 {
			return false
		}
	}
	return true
}

func shapeString(s []int64) string {
	p := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			p[i] = "?"
		} else {
			p[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(p, " ") + "]"
}

// Close frees the session. It is safe to call twice.
func (m *Model) Close() error {
	if m.sess == nil {
		return nil
	}
	err := m.sess.Destroy()
	m.sess = nil
	if err != nil {
		return fmt.Errorf("onnx model %q: close: %w", m.path, err)
	}
	return nil
}
