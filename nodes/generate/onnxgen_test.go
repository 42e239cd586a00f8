package generate

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/chunkrng"
	ot "dagrun/lib/onnx/onnxtest"
	"dagrun/nodes"
)

// decoderGraph is a tiny decoder: pixels = sigmoid(z·W + b + E[category]),
// reshaped to [B,1,S,S] (nchw) or [B,S,S]. With onehot the category is a
// float one-hot [B,K] and E[c] is computed as onehot·E.
func decoderGraph(w, b, e []float32, latent, classes, size int, onehot, nchw bool) ot.Graph {
	P := int64(size * size)
	shape := []int64{-1, 1, int64(size), int64(size)}
	if !nchw {
		shape = []int64{-1, int64(size), int64(size)}
	}
	emb := ot.Op("Gather", "emb", []string{"E", "category"}, ot.Int("axis", 0))
	cat := ot.Value{Name: "category", Elem: ot.ElemInt64, Shape: []int64{-1}}
	if onehot {
		emb = ot.Op("MatMul", "emb", []string{"category", "E"})
		cat = ot.Value{Name: "category", Shape: []int64{-1, int64(classes)}}
	}
	return ot.Graph{
		Nodes: []ot.Node{
			ot.Op("MatMul", "zw", []string{"z", "W"}),
			ot.Op("Add", "zwb", []string{"zw", "b"}),
			emb,
			ot.Op("Add", "logits", []string{"zwb", "emb"}),
			ot.Op("Sigmoid", "flat", []string{"logits"}),
			ot.Op("Reshape", "image", []string{"flat", "shape"}),
		},
		Inits: []ot.Tensor{
			{Name: "W", Dims: []int64{int64(latent), P}, Float: w},
			{Name: "b", Dims: []int64{P}, Float: b},
			{Name: "E", Dims: []int64{int64(classes), P}, Float: e},
			{Name: "shape", Dims: []int64{int64(len(shape))}, Int64: shape},
		},
		Inputs:  []ot.Value{cat, {Name: "z", Shape: []int64{-1, int64(latent)}}},
		Outputs: []ot.Value{{Name: "image", Shape: shape}},
	}
}

func randF32(rng *rand.Rand, n int, scale float64) []float32 {
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(scale * rng.NormFloat64())
	}
	return out
}

func TestONNXGenerate(t *testing.T) {
	ot.Runtime(t)
	const latent, classes, size = 3, 4, 6
	P := size * size
	rng := rand.New(rand.NewPCG(5, 5))
	w, b, e := randF32(rng, latent*P, 1), randF32(rng, P, 0.5), randF32(rng, classes*P, 1)
	dir := t.TempDir()
	names := []string{"a", "b", "c", "d"}
	for _, tc := range []struct {
		name         string
		onehot, nchw bool
	}{{"index-nchw", false, true}, {"onehot-nhw", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := ot.WriteModel(t, dir, tc.name+".onnx", decoderGraph(w, b, e, latent, classes, size, tc.onehot, tc.nchw))
			set := func(n int) func(*ONNXParams) {
				return func(p *ONNXParams) {
					p.Model, p.Size, p.Classes, p.NPerClass, p.Temperature, p.Seed = filepath.Base(path), size, names, n, 1.5, 3
					if tc.onehot {
						p.CategoryFormat = CategoryOneHot
					}
					if !tc.nchw {
						p.Layout = LayoutNHW
					}
				}
			}
			pool, err := format.LoadPool(runKind(t, ONNXKind(), nodes.Build{Dir: dir}, set(70), nil))
			if err != nil {
				t.Fatal(err)
			}
			if pool.N != 4*70 || pool.H != size || pool.Meta.Source != "onnx" {
				t.Fatalf("pool of %d items of size %d, source %q", pool.N, pool.H, pool.Meta.Source)
			}
			// Independent computation of every pixel from the same noise.
			worst := 0.0
			for c := range classes {
				for j := range 70 {
					z := chunkNoise(3, c, j/chunkrng.Size, latent, 1.5)[(j%chunkrng.Size)*latent:]
					for k := range P {
						l := float64(b[k]) + float64(e[c*P+k])
						for i := range latent {
							l += float64(z[i]) * float64(w[i*P+k])
						}
						want := 255 / (1 + math.Exp(-l))
						got := float64(pool.Images[(c*70+j)*P+k])
						worst = max(worst, math.Abs(got-want))
						if pool.Labels[c*70+j] != int64(c) {
							t.Fatalf("item %d has label %d, want %d", c*70+j, pool.Labels[c*70+j], c)
						}
					}
				}
			}
			if worst > 0.51 {
				t.Errorf("pixels differ from the direct computation by up to %v, want at most 0.5 (rounding)", worst)
			}
			big, err := format.LoadPool(runKind(t, ONNXKind(), nodes.Build{Dir: dir}, set(130), nil))
			if err != nil {
				t.Fatal(err)
			}
			for c := range classes {
				if string(big.Images[c*130*P:(c*130+70)*P]) != string(pool.Images[c*70*P:(c+1)*70*P]) {
					t.Errorf("category %d: first 70 items differ between n_per_class 70 and 130", c)
				}
			}
		})
	}
}

func TestONNXGenerateErrors(t *testing.T) {
	ot.Runtime(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 1))
	good := ot.WriteModel(t, dir, "dec.onnx", decoderGraph(randF32(rng, 3*16, 1), randF32(rng, 16, 1), randF32(rng, 2*16, 1), 3, 2, 4, false, true))
	full, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.onnx"), full[:len(full)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		set  func(*ONNXParams)
		want []string
	}{
		{"missing", func(p *ONNXParams) { p.Model = "nope.onnx" }, []string{"nope.onnx", "does not exist"}},
		{"truncated", func(p *ONNXParams) { p.Model = "cut.onnx" }, []string{"cut.onnx"}},
		{"latent", func(p *ONNXParams) { p.Latent = 5 }, []string{"dec.onnx", `"z"`, "want [? 5]"}},
		{"size", func(p *ONNXParams) { p.Size = 28 }, []string{"dec.onnx", `"image"`, "want [? 1 28 28]"}},
		{"format", func(p *ONNXParams) { p.CategoryFormat = CategoryOneHot }, []string{"dec.onnx", `"category"`, "want float32"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tryRunKind(t, ONNXKind(), nodes.Build{Dir: dir}, func(p *ONNXParams) {
				p.Model, p.Size, p.Classes, p.NPerClass = "dec.onnx", 4, []string{"x", "y"}, 2
				tc.set(p)
			}, nil)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want it to contain %q", err, w)
				}
			}
		})
	}
}

// TestONNXFingerprint checks that the model's content, not its name, is
// what the node reports for the key.
func TestONNXFingerprint(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"a.onnx": "one", "b.onnx": "one", "c.onnx": "two"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fp := func(model string) string {
		p := DefaultONNXParams()
		p.Model = model
		n, err := ONNXKind().New(nodes.Build{Dir: dir}, &p)
		if err != nil {
			t.Fatal(err)
		}
		m, err := n.(nodes.Fingerprinter).Fingerprint(t.Context(), fileHasher{})
		if err != nil {
			t.Fatal(err)
		}
		return m["model"]
	}
	if fp("a.onnx") != fp("b.onnx") || fp("a.onnx") == fp("c.onnx") {
		t.Error("fingerprint does not follow the model file's content")
	}
}
