package generate

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/chunkrng"
	"dagrun/lib/onnx"
	"dagrun/lib/resample"
	"dagrun/nodes"
)

// Category input formats of onnx-generate.
const (
	CategoryIndex  = "index"  // int64 [B]
	CategoryOneHot = "onehot" // float32 [B, K]
)

// Output layouts and scales of onnx-generate.
const (
	LayoutNCHW = "nchw" // [B, 1, S, S]
	LayoutNHW  = "nhw"  // [B, S, S]
	ScaleUnit  = "unit" // values in [0, 1]
	ScaleByte  = "byte" // values in [0, 255]
)

// ONNXParams are the params of the onnx-generate kind.
type ONNXParams struct {
	Model          string   `yaml:"model" json:"-" doc:"ONNX decoder file, relative to the spec; its content enters the key"`
	CategoryInput  string   `yaml:"category_input" json:"category_input" doc:"name of the category input"`
	CategoryFormat string   `yaml:"category_format" json:"category_format" doc:"index (int64 [B]) or onehot (float32 [B,K])"`
	LatentInput    string   `yaml:"latent_input" json:"latent_input" doc:"name of the latent input, float32 [B,latent]"`
	Latent         int      `yaml:"latent" json:"latent" doc:"latent dimension (0: read from the model)"`
	Output         string   `yaml:"output" json:"output" doc:"name of the image output (default: the model's first)"`
	Layout         string   `yaml:"layout" json:"layout" doc:"nchw ([B,1,S,S]) or nhw ([B,S,S])"`
	Scale          string   `yaml:"scale" json:"scale" doc:"unit (values in [0,1]) or byte ([0,255])"`
	Size           int      `yaml:"size" json:"size" doc:"side S of the output images"`
	Classes        []string `yaml:"classes" json:"classes,omitempty" doc:"category names (or bind the classes input)"`
	NPerClass      int      `yaml:"n_per_class" json:"n_per_class" doc:"items generated per category"`
	Temperature    float64  `yaml:"temperature" json:"temperature" doc:"latent z ~ N(0, T²)"`
	Seed           uint64   `yaml:"seed" json:"seed" doc:"seeds the latent draws"`
	Source         string   `yaml:"source" json:"source" doc:"source tag written to meta.json"`
	Preview        int      `yaml:"preview" json:"preview" doc:"items per category in preview.png"`
	Threads        int      `yaml:"threads" json:"-" doc:"ONNX Runtime threads per run (results do not depend on it)"`
}

// DefaultONNXParams are onnx-generate's defaults.
func DefaultONNXParams() ONNXParams {
	return ONNXParams{
		CategoryInput: "category", CategoryFormat: CategoryIndex, LatentInput: "z",
		Layout: LayoutNCHW, Scale: ScaleUnit, Size: 28, NPerClass: 100, Temperature: 1,
		Source: "onnx", Preview: 8, Threads: 1,
	}
}

func (p ONNXParams) validate() error {
	var errs []error
	if p.Model == "" {
		errs = append(errs, errors.New("model is required (an ONNX decoder file)"))
	}
	if p.CategoryInput == "" || p.LatentInput == "" {
		errs = append(errs, errors.New("category_input and latent_input must not be empty"))
	}
	if p.CategoryFormat != CategoryIndex && p.CategoryFormat != CategoryOneHot {
		errs = append(errs, fmt.Errorf("category_format %q: want %q or %q", p.CategoryFormat, CategoryIndex, CategoryOneHot))
	}
	if p.Layout != LayoutNCHW && p.Layout != LayoutNHW {
		errs = append(errs, fmt.Errorf("layout %q: want %q or %q", p.Layout, LayoutNCHW, LayoutNHW))
	}
	if p.Scale != ScaleUnit && p.Scale != ScaleByte {
		errs = append(errs, fmt.Errorf("scale %q: want %q or %q", p.Scale, ScaleUnit, ScaleByte))
	}
	if p.Latent < 0 || p.Size < 1 || p.NPerClass < 1 || p.Preview < 1 || p.Threads < 0 {
		errs = append(errs, fmt.Errorf("latent %d, size %d, n_per_class %d, preview %d and threads %d are out of range",
			p.Latent, p.Size, p.NPerClass, p.Preview, p.Threads))
	}
	if !(p.Temperature >= 0) {
		errs = append(errs, fmt.Errorf("temperature must be non-negative, got %v", p.Temperature))
	}
	if p.Source == "" {
		errs = append(errs, errors.New("source must not be empty"))
	}
	return errors.Join(errs...)
}

// ONNXKind generates a pool with any ONNX decoder that maps (category,
// latent) to an image.
func ONNXKind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "onnx-generate",
		Doc:      "generate a pool with an ONNX decoder (category, latent z ~ N(0, T²)) -> image; prefix-stable in n_per_class (needs ONNX Runtime)",
		Version:  1,
		Inputs:   []nodes.Slot{classesSlot},
		Produces: format.TypePool,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile, format.PreviewFile},
		Params:   func() any { p := DefaultONNXParams(); return &p },
		New: func(b nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*ONNXParams)
			if err := p.validate(); err != nil {
				return nil, err
			}
			path := p.Model
			if !filepath.IsAbs(path) {
				path = filepath.Join(b.Dir, path)
			}
			return &onnxNode{p: p, path: path, dir: b.Dir}, nil
		},
	}
}

type onnxNode struct {
	p         ONNXParams
	path, dir string
}

// Fingerprint implements nodes.Fingerprinter: the model file's content.
func (n *onnxNode) Fingerprint(_ context.Context, h nodes.FileHasher) (map[string]string, error) {
	d, err := h.FileDigest(n.path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", n.p.Model, err)
	}
	return map[string]string{"model": d}, nil
}

// Run implements nodes.Node.
func (n *onnxNode) Run(ctx context.Context, env *nodes.Env) error {
	names, err := classNames(n.p.Classes, env)
	if err != nil {
		return err
	}
	rt, err := onnx.Load(n.dir)
	if err != nil {
		return err
	}
	m, err := rt.Open(n.path, onnx.Options{IntraOpThreads: n.p.Threads})
	if err != nil {
		return err
	}
	defer m.Close()
	g, err := newONNXDecoder(m, n.p, len(names))
	if err != nil {
		return err
	}
	S := n.p.Size
	pool := &format.Pool{H: S, W: S, Meta: format.PoolMeta{Classes: names, Source: n.p.Source, PerClass: n.p.NPerClass}}
	for c := range names {
		for k := 0; k*chunkrng.Size < n.p.NPerClass; k++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			// Always decode a whole chunk, so a chunk's inputs (and so its
			// outputs) never depend on n_per_class.
			px, err := g.decodeChunk(c, chunkNoise(n.p.Seed, c, k, g.latent, n.p.Temperature))
			if err != nil {
				return err
			}
			keep := min(chunkrng.Size, n.p.NPerClass-k*chunkrng.Size)
			for _, v := range px[:keep*S*S] {
				pool.Images = append(pool.Images, resample.ToByte(float64(v)*g.toByte))
			}
			for range keep {
				pool.Labels = append(pool.Labels, int64(c))
			}
		}
		env.Report(c+1, len(names))
	}
	return pool.Save(env.OutDir, n.p.Preview)
}

// chunkNoise is chunk k of category c: chunkrng.Size latent vectors, each entry
// temperature·N(0, 1), back to back.
func chunkNoise(seed uint64, c, k, dim int, temperature float64) []float32 {
	rng := chunkrng.Stream(seed, c, k)
	out := make([]float32, chunkrng.Size*dim)
	for i := range out {
		out[i] = float32(temperature * rng.NormFloat64())
	}
	return out
}

// onnxDecoder runs a checked ONNX decoder in batches.
type onnxDecoder struct {
	m       *onnx.Model
	p       ONNXParams
	classes int
	latent  int
	batch   int // items per Run: chunkrng.Size, or the model's fixed batch
	toByte  float64
}

// newONNXDecoder checks the model's inputs and output against the params,
// with errors that name the file and the expected shapes.
func newONNXDecoder(m *onnx.Model, p ONNXParams, classes int) (*onnxDecoder, error) {
	d := &onnxDecoder{m: m, p: p, classes: classes, latent: p.Latent, batch: chunkrng.Size, toByte: 255}
	if p.Scale == ScaleByte {
		d.toByte = 1
	}
	if ins := m.Inputs(); len(ins) != 2 {
		return nil, fmt.Errorf("onnx model %q has %d inputs, want 2 (%q and %q)", m.Path(), len(ins), p.CategoryInput, p.LatentInput)
	}
	zin, err := m.Input(p.LatentInput)
	if err != nil {
		return nil, err
	}
	if len(zin.Shape) == 2 && d.latent == 0 {
		d.latent = int(zin.Shape[1])
	}
	if d.latent <= 0 {
		return nil, fmt.Errorf("onnx model %q: latent input %q has shape %v; set the latent param", m.Path(), zin.Name, zin.Shape)
	}
	if err := m.ExpectInput(p.LatentInput, "float32", -1, int64(d.latent)); err != nil {
		return nil, err
	}
	if b := zin.Shape[0]; b > 0 {
		if chunkrng.Size%int(b) != 0 {
			return nil, fmt.Errorf("onnx model %q: fixed batch size %d does not divide the chunk size %d; export it with a dynamic batch dimension", m.Path(), b, chunkrng.Size)
		}
		d.batch = int(b)
	}
	if p.CategoryFormat == CategoryIndex {
		err = m.ExpectInput(p.CategoryInput, "int64", -1)
	} else {
		err = m.ExpectInput(p.CategoryInput, "float32", -1, int64(classes))
	}
	if err != nil {
		return nil, err
	}
	if d.p.Output == "" {
		d.p.Output = m.Outputs()[0].Name
	}
	S := int64(p.Size)
	if p.Layout == LayoutNCHW {
		err = m.ExpectOutput(d.p.Output, "float32", -1, 1, S, S)
	} else {
		err = m.ExpectOutput(d.p.Output, "float32", -1, S, S)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// decodeChunk decodes chunkrng.Size latent vectors of category c into
// chunkrng.Size·S·S values on the model's scale.
func (d *onnxDecoder) decodeChunk(c int, z []float32) ([]float32, error) {
	S := d.p.Size
	out := make([]float32, 0, chunkrng.Size*S*S)
	for lo := 0; lo < chunkrng.Size; lo += d.batch {
		b := int64(d.batch)
		var cat onnx.Tensor
		if d.p.CategoryFormat == CategoryIndex {
			idx := make([]int64, d.batch)
			for i := range idx {
				idx[i] = int64(c)
			}
			cat = onnx.I64(d.p.CategoryInput, idx, b)
		} else {
			oh := make([]float32, d.batch*d.classes)
			for i := range d.batch {
				oh[i*d.classes+c] = 1
			}
			cat = onnx.F32(d.p.CategoryInput, oh, b, int64(d.classes))
		}
		zb := onnx.F32(d.p.LatentInput, z[lo*d.latent:(lo+d.batch)*d.latent], b, int64(d.latent))
		outs, err := d.m.Run(cat, zb)
		if err != nil {
			return nil, err
		}
		var img *onnx.Tensor
		for i := range outs {
			if outs[i].Name == d.p.Output {
				img = &outs[i]
			}
		}
		if img == nil || len(img.F32) != d.batch*S*S {
			return nil, fmt.Errorf("onnx model %q: output %q did not hold %d float32 values for a batch of %d %dx%d images", d.m.Path(), d.p.Output, d.batch*S*S, d.batch, S, S)
		}
		out = append(out, img.F32...)
	}
	return out, nil
}
