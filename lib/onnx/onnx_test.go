package onnx_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/lib/onnx"
	ot "dagrun/lib/onnx/onnxtest"
)

func TestFindLibrary(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, onnx.LibraryRel)
	if err := os.MkdirAll(filepath.Dir(lib), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(root, "experiments", "checks")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv(onnx.LibraryEnv, "")
	if got, err := onnx.FindLibrary(deep); err != nil || got != lib {
		t.Errorf("FindLibrary(deep) = %q, %v, want %q", got, err, lib)
	}
	bare := t.TempDir()
	_, err := onnx.FindLibrary(bare)
	if err == nil || !strings.Contains(err.Error(), "make onnxruntime") || !strings.Contains(err.Error(), "not found") {
		t.Errorf("FindLibrary(bare) error = %v, want a not-found error saying make onnxruntime", err)
	}
	t.Setenv(onnx.LibraryEnv, filepath.Join(bare, "nope.so"))
	_, err = onnx.FindLibrary(deep)
	if err == nil || !strings.Contains(err.Error(), "nope.so") || !strings.Contains(err.Error(), "make onnxruntime") {
		t.Errorf("FindLibrary with a missing $%s: error = %v", onnx.LibraryEnv, err)
	}
	t.Setenv(onnx.LibraryEnv, lib)
	if got, err := onnx.FindLibrary(bare); err != nil || got != lib {
		t.Errorf("FindLibrary with $%s = %q, %v, want %q", onnx.LibraryEnv, got, err, lib)
	}
}

// mlp is y = Sigmoid(x·W + b) with x [N,3], W [3,2].
func mlp(w, b []float32) ot.Graph {
	return ot.Graph{
		Nodes: []ot.Node{
			ot.Op("MatMul", "xw", []string{"x", "W"}),
			ot.Op("Add", "z", []string{"xw", "b"}),
			ot.Op("Sigmoid", "y", []string{"z"}),
		},
		Inits:   []ot.Tensor{{Name: "W", Dims: []int64{3, 2}, Float: w}, {Name: "b", Dims: []int64{2}, Float: b}},
		Inputs:  []ot.Value{{Name: "x", Shape: []int64{-1, 3}}},
		Outputs: []ot.Value{{Name: "y", Shape: []int64{-1, 2}}},
	}
}

func TestRunMatMulSigmoid(t *testing.T) {
	rt := ot.Runtime(t)
	w := []float32{0.5, -1, 2, 0.25, -0.75, 1.5}
	b := []float32{0.1, -0.2}
	path := ot.WriteModel(t, t.TempDir(), "mlp.onnx", mlp(w, b))
	m, err := rt.Open(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if ins := m.Inputs(); len(ins) != 1 || ins[0].Name != "x" || ins[0].Type != "float32" || !onnx.ShapeMatches(ins[0].Shape, []int64{-1, 3}) || ins[0].Shape[0] != -1 {
		t.Errorf("Inputs() = %v", ins)
	}
	x := []float32{1, 2, 3, -1, 0, 4}
	outs, err := m.Run(onnx.F32("x", x, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Name != "y" || len(outs[0].F32) != 4 {
		t.Fatalf("outputs = %+v", outs)
	}
	for n := 0; n < 2; n++ {
		for j := 0; j < 2; j++ {
			z := float64(b[j])
			for k := 0; k < 3; k++ {
				z += float64(x[n*3+k]) * float64(w[k*2+j])
			}
			want := 1 / (1 + math.Exp(-z))
			if got := float64(outs[0].F32[n*2+j]); math.Abs(got-want) > 1e-6 {
				t.Errorf("y[%d,%d] = %v, want %v", n, j, got, want)
			}
		}
	}
}

func TestRunConvReluNormalize(t *testing.T) {
	rt := ot.Runtime(t)
	// Conv 1→2 channels, 3×3, pad 1, then Relu, then ReduceMean over the
	// spatial axes, then an L2 normalisation (Mul, ReduceSum... spelled with
	// the ops the encoders use: Div by Sqrt of ReduceMean of the square).
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float32, 2*1*3*3)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	bias := []float32{0.3, -0.1}
	g := ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Conv", "c", []string{"x", "w", "b"}, ot.Ints("pads", 1, 1, 1, 1), ot.Ints("kernel_shape", 3, 3)),
			ot.Op("Relu", "r", []string{"c"}),
			ot.Op("ReduceMean", "m", []string{"r"}, ot.Ints("axes", 2, 3), ot.Int("keepdims", 0)),
			ot.Op("Mul", "sq", []string{"m", "m"}),
			ot.Op("ReduceMean", "ms", []string{"sq"}, ot.Ints("axes", 1), ot.Int("keepdims", 1)),
			ot.Op("Sqrt", "rms", []string{"ms"}),
			ot.Op("Div", "y", []string{"m", "rms"}),
		},
		Inits:   []ot.Tensor{{Name: "w", Dims: []int64{2, 1, 3, 3}, Float: w}, {Name: "b", Dims: []int64{2}, Float: bias}},
		Inputs:  []ot.Value{{Name: "x", Shape: []int64{1, 1, 4, 5}}},
		Outputs: []ot.Value{{Name: "y", Shape: []int64{1, 2}}, {Name: "r", Shape: []int64{1, 2, 4, 5}}},
	}
	m, err := rt.Open(ot.WriteModel(t, t.TempDir(), "conv.onnx", g), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := make([]float32, 20)
	for i := range x {
		x[i] = float32(r.Float64())
	}
	outs, err := m.Run(onnx.F32("x", x, 1, 1, 4, 5))
	if err != nil {
		t.Fatal(err)
	}
	// Independent computation: direct convolution with zero padding.
	var mean [2]float64
	for c := 0; c < 2; c++ {
		for y := 0; y < 4; y++ {
			for xx := 0; xx < 5; xx++ {
				s := float64(bias[c])
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						if yy, xs := y+dy, xx+dx; yy >= 0 && yy < 4 && xs >= 0 && xs < 5 {
							s += float64(x[yy*5+xs]) * float64(w[c*9+(dy+1)*3+dx+1])
						}
					}
				}
				s = max(s, 0)
				if got := float64(outs[1].F32[c*20+y*5+xx]); math.Abs(got-s) > 1e-5 {
					t.Errorf("relu(conv)[%d,%d,%d] = %v, want %v", c, y, xx, got, s)
				}
				mean[c] += s / 20
			}
		}
	}
	rms := math.Sqrt((mean[0]*mean[0] + mean[1]*mean[1]) / 2)
	for c := 0; c < 2; c++ {
		if got, want := float64(outs[0].F32[c]), mean[c]/rms; math.Abs(got-want) > 1e-5 {
			t.Errorf("y[%d] = %v, want %v", c, got, want)
		}
	}
}

func TestRunGatherReshapeInt64(t *testing.T) {
	rt := ot.Runtime(t)
	// An embedding lookup: ids [1,3] int64 -> Gather rows of E [4,2] ->
	// Reshape to [1,6].
	e := []float32{0, 1, 10, 11, 20, 21, 30, 31}
	g := ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Gather", "g", []string{"E", "ids"}, ot.Int("axis", 0)),
			ot.Op("Reshape", "y", []string{"g", "shape"}),
		},
		Inits:   []ot.Tensor{{Name: "E", Dims: []int64{4, 2}, Float: e}, {Name: "shape", Dims: []int64{2}, Int64: []int64{1, 6}}},
		Inputs:  []ot.Value{{Name: "ids", Elem: ot.ElemInt64, Shape: []int64{1, 3}}},
		Outputs: []ot.Value{{Name: "y", Shape: []int64{1, 6}}},
	}
	m, err := rt.Open(ot.WriteModel(t, t.TempDir(), "gather.onnx", g), onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	outs, err := m.Run(onnx.I64("ids", []int64{3, 0, 2}, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{30, 31, 0, 1, 20, 21}
	for i, v := range want {
		if outs[0].F32[i] != v {
			t.Fatalf("y = %v, want %v", outs[0].F32, want)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	rt := ot.Runtime(t)
	dir := t.TempDir()
	good := ot.Encode(mlp(make([]float32, 6), make([]float32, 2)))
	trunc := filepath.Join(dir, "trunc.onnx")
	if err := os.WriteFile(trunc, good[:len(good)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	text := filepath.Join(dir, "text.onnx")
	if err := os.WriteFile(text, []byte("<html>not found</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.onnx")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// Parses as protobuf with a graph field, but the graph is nonsense.
	bad := filepath.Join(dir, "bad.onnx")
	if err := ot.Write(bad, ot.Graph{Nodes: []ot.Node{ot.Op("NoSuchOp", "y", []string{"x"})},
		Inputs: []ot.Value{{Name: "x", Shape: []int64{1}}}, Outputs: []ot.Value{{Name: "y", Shape: []int64{1}}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.onnx"), "does not exist"},
		{trunc, "truncated"},
		{text, "not an ONNX model"},
		{empty, "empty"},
		{bad, "runtime rejects it"},
	} {
		m, err := rt.Open(tc.path, onnx.Options{})
		if err == nil {
			m.Close()
			t.Errorf("Open(%q) succeeded", tc.path)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
			t.Errorf("Open(%q) error = %q, want it to name the file and say %q", tc.path, err, tc.want)
		}
	}
}

func TestExpectAndRunMismatch(t *testing.T) {
	rt := ot.Runtime(t)
	path := ot.WriteModel(t, t.TempDir(), "mlp.onnx", mlp(make([]float32, 6), make([]float32, 2)))
	m, err := rt.Open(path, onnx.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.ExpectInput("x", "float32", 5, 3); err != nil {
		t.Errorf("ExpectInput(x, [5 3]) = %v, want nil (batch is dynamic)", err)
	}
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{m.ExpectInput("x", "float32", 1, 3, 4, 4), []string{"mlp.onnx", `"x"`, "[? 3]", "want [1 3 4 4]"}},
		{m.ExpectInput("x", "int64", 1, 3), []string{"holds float32, want int64"}},
		{m.ExpectInput("image", "", 1, 3), []string{`no input "image"`, `"x"`}},
		{m.ExpectOutput("", "float32", -1, 7), []string{`output "y"`, "want [? 7]"}},
		{run(m, onnx.F32("x", make([]float32, 8), 2, 4)), []string{"shape [? 3], given [2 4]"}},
		{run(m, onnx.F32("x", make([]float32, 5), 2, 3)), []string{"needs 6 elements, given 5"}},
		{run(m, onnx.I64("x", make([]int64, 3), 1, 3)), []string{"holds float32, given int64"}},
		{run(m, onnx.F32("z", make([]float32, 3), 1, 3)), []string{`no input "z"`}},
		{run(m), []string{"run with 0 inputs, the model takes 1"}},
	} {
		if tc.err == nil {
			t.Errorf("no error, want one saying %q", tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(tc.err.Error(), w) {
				t.Errorf("error %q does not say %q", tc.err, w)
			}
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := run(m, onnx.F32("x", make([]float32, 3), 1, 3)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after Close: %v", err)
	}
}

func run(m *onnx.Model, in ...onnx.Tensor) error {
	_, err := m.Run(in...)
	return err
}

func TestCheckModelBytes(t *testing.T) {
	good := ot.Encode(mlp(make([]float32, 6), make([]float32, 2)))
	if err := onnx.CheckModelBytes(good); err != nil {
		t.Errorf("CheckModelBytes(good) = %v", err)
	}
	// The last 6 bytes are opset_import; every shorter prefix cuts into
	// the header or the graph.
	for n := 1; n < len(good)-6; n += 7 {
		if err := onnx.CheckModelBytes(good[:n]); err == nil {
			t.Errorf("CheckModelBytes(first %d of %d bytes) = nil", n, len(good))
		}
	}
}

func TestOutputSubset(t *testing.T) {
	rt := ot.Runtime(t)
	g := ot.Graph{
		Nodes: []ot.Node{
			ot.Op("Relu", "r", []string{"x"}),
			ot.Op("Neg", "n", []string{"x"}),
			ot.Op("Sigmoid", "s", []string{"x"}),
		},
		Inputs:  []ot.Value{{Name: "x", Shape: []int64{2}}},
		Outputs: []ot.Value{{Name: "r", Shape: []int64{2}}, {Name: "n", Shape: []int64{2}}, {Name: "s", Shape: []int64{2}}},
	}
	path := ot.WriteModel(t, t.TempDir(), "three.onnx", g)
	m, err := rt.Open(path, onnx.Options{Outputs: []int{2, 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if outs := m.Outputs(); len(outs) != 2 || outs[0].Name != "s" || outs[1].Name != "n" {
		t.Errorf("Outputs() = %v, want s, n", outs)
	}
	res, err := m.Run(onnx.F32("x", []float32{-2, 3}, 2))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Name != "s" || res[1].Name != "n" || res[1].F32[0] != 2 || res[1].F32[1] != -3 {
		t.Errorf("Run = %+v", res)
	}
	if _, err := rt.Open(path, onnx.Options{Outputs: []int{3}}); err == nil || !strings.Contains(err.Error(), "output 3 requested, the model has 3") {
		t.Errorf("Open with output 3: %v", err)
	}
}
