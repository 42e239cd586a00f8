package annotate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"dagrun/format"
	"dagrun/lib/onnx"
	"dagrun/lib/resample"
	"dagrun/nodes"
)

// SaliencyParams configure the onnx-saliency annotator.
type SaliencyParams struct {
	Model string `yaml:"model" json:"-" doc:"the ONNX model file, relative to the spec; its content digest enters the key"`
	Size  int    `yaml:"size" json:"size" doc:"square input size the image is resized to (0: the model's fixed input size)"`
	// Pad surrounds the image with black before resizing: salient-object
	// models trained on photos often see nothing in a 28×28 item that fills
	// its frame (ISNet finds 1 of 4 Fashion-MNIST items unpadded, 4 of 4
	// with pad 14).
	Pad   int       `yaml:"pad" json:"pad" doc:"black border in pixels added on each side before resizing (the map is cropped back)"`
	Mean  []float64 `yaml:"mean" json:"mean" doc:"per-channel mean subtracted from pixels scaled to [0, 1]"`
	Std   []float64 `yaml:"std" json:"std" doc:"per-channel divisor after the mean"`
	Input string    `yaml:"input" json:"input" doc:"input name (default: the model's first input)"`
	// Output selects which model output is the saliency map (U2Net's d0
	// and ISNet's main map are output 0).
	Output    int     `yaml:"output" json:"output" doc:"index of the output holding the saliency map"`
	Normalize string  `yaml:"normalize" json:"normalize" doc:"minmax (rescale each map to [0, 1], as the U2Net/ISNet inference scripts do) or none"`
	Threshold float64 `yaml:"threshold" json:"threshold" doc:"foreground where the (resized-back) map exceeds it"`
	Threads   int     `yaml:"threads" json:"-" doc:"ONNX Runtime threads per run (results do not depend on it)"`
}

// Normalisations of the onnx-saliency map.
const (
	MinMax = "minmax"
	NoNorm = "none"
)

// DefaultSaliencyParams are ISNet's (DIS) preprocessing: pixels in [0, 1]
// minus 0.5, divided by 1. U2Net takes mean [0.485, 0.456, 0.406] and std
// [0.229, 0.224, 0.225] at size 320.
func DefaultSaliencyParams() SaliencyParams {
	return SaliencyParams{Mean: []float64{0.5, 0.5, 0.5}, Std: []float64{1, 1, 1},
		Normalize: MinMax, Threshold: 0.5, Threads: 1}
}

// SaliencyKind returns the onnx-saliency kind.
func SaliencyKind() *nodes.Kind {
	return &nodes.Kind{
		Name:     "onnx-saliency",
		Doc:      "annotator: a U2Net/ISNet-style salient-object ONNX model, map resized back and thresholded (needs ONNX Runtime)",
		Version:  1,
		Inputs:   poolSlot,
		Produces: format.TypeMasks,
		Outputs:  outputs,
		Params:   func() any { p := DefaultSaliencyParams(); return &p },
		New: func(b nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*SaliencyParams)
			if err := p.validate(); err != nil {
				return nil, err
			}
			path := p.Model
			if !filepath.IsAbs(path) {
				path = filepath.Join(b.Dir, path)
			}
			return &saliencyNode{p: p, path: path, dir: b.Dir}, nil
		},
	}
}

func (p SaliencyParams) validate() error {
	var errs []error
	if p.Model == "" {
		errs = append(errs, errors.New("model is required (an ONNX file)"))
	}
	if p.Size < 0 || p.Pad < 0 {
		errs = append(errs, fmt.Errorf("size %d and pad %d must not be negative", p.Size, p.Pad))
	}
	if len(p.Mean) != 3 || len(p.Std) != 3 {
		errs = append(errs, fmt.Errorf("mean %v and std %v need 3 values each (R, G, B)", p.Mean, p.Std))
	}
	for _, s := range p.Std {
		if !(s > 0) {
			errs = append(errs, fmt.Errorf("std %v must be positive", p.Std))
			break
		}
	}
	if p.Output < 0 {
		errs = append(errs, fmt.Errorf("output %d must not be negative", p.Output))
	}
	if p.Normalize != MinMax && p.Normalize != NoNorm {
		errs = append(errs, fmt.Errorf("normalize %q: want %q or %q", p.Normalize, MinMax, NoNorm))
	}
	if p.Threads < 0 {
		errs = append(errs, fmt.Errorf("threads %d must not be negative", p.Threads))
	}
	return errors.Join(errs...)
}

type saliencyNode struct {
	p         SaliencyParams
	path, dir string
}

// Fingerprint implements nodes.Fingerprinter: the model's content.
func (n *saliencyNode) Fingerprint(_ context.Context, h nodes.FileHasher) (map[string]string, error) {
	d, err := h.FileDigest(n.path)
	if err != nil {
		return nil, fmt.Errorf("model %q: %w", n.p.Model, err)
	}
	return map[string]string{"model": d}, nil
}

// Run implements nodes.Node.
func (n *saliencyNode) Run(ctx context.Context, env *nodes.Env) error {
	pool, err := loadInput(env)
	if err != nil {
		return fmt.Errorf("onnx-saliency: %w", err)
	}
	rt, err := onnx.Load(n.dir)
	if err != nil {
		return fmt.Errorf("onnx-saliency: %w", err)
	}
	m, err := rt.Open(n.path, onnx.Options{IntraOpThreads: n.p.Threads, Outputs: []int{n.p.Output}})
	if err != nil {
		return fmt.Errorf("onnx-saliency: %w", err)
	}
	defer m.Close()
	s, err := NewSaliency(m, n.p)
	if err != nil {
		return fmt.Errorf("onnx-saliency: %w", err)
	}
	out := &format.Masks{N: pool.N, H: pool.H, W: pool.W, Masks: make([]uint8, len(pool.Images)),
		Meta: format.MasksMeta{Annotator: "onnx-saliency", Params: n.p}}
	for i := 0; i < pool.N; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		mask, err := s.Mask(pool.Image(i), pool.H, pool.W)
		if err != nil {
			return fmt.Errorf("onnx-saliency: item %d: %w", i, err)
		}
		copy(out.Mask(i), mask)
		env.Report(i+1, pool.N)
	}
	if err := out.Save(env.OutDir, pool); err != nil {
		return fmt.Errorf("onnx-saliency: %w", err)
	}
	return nil
}

// Saliency runs a salient-object model on grey images.
type Saliency struct {
	m     *onnx.Model
	p     SaliencyParams
	input string
	size  int
}

// NewSaliency checks m against p (input [1|N, 3, size, size] float32, a
// float32 output) and returns the annotator; size 0 is taken from the
// model's fixed input shape. m's first output is the map: open it with
// onnx.Options.Outputs = []int{p.Output}.
func NewSaliency(m *onnx.Model, p SaliencyParams) (*Saliency, error) {
	in, err := m.Input(p.Input)
	if err != nil {
		return nil, err
	}
	size := p.Size
	if size == 0 {
		if len(in.Shape) != 4 || in.Shape[2] < 1 || in.Shape[2] != in.Shape[3] {
			return nil, fmt.Errorf("onnx model %q: input %q has shape %v without one fixed square size; set the size param", m.Path(), in.Name, in.Shape)
		}
		size = int(in.Shape[2])
	}
	if err := m.ExpectInput(in.Name, "float32", 1, 3, int64(size), int64(size)); err != nil {
		return nil, fmt.Errorf("%w (check the size and input params)", err)
	}
	out, err := m.Output("")
	if err != nil {
		return nil, err
	}
	if out.Type != "float32" {
		return nil, fmt.Errorf("onnx model %q: output %q holds %s, want float32", m.Path(), out.Name, out.Type)
	}
	return &Saliency{m: m, p: p, input: in.Name, size: size}, nil
}

// Map returns the model's saliency map of an h×w grey image, resized back
// to h×w and normalised as the params say.
func (s *Saliency) Map(img []uint8, h, w int) ([]float32, error) {
	pad := s.p.Pad
	ph, pw := h+2*pad, w+2*pad
	grey := make([]float32, ph*pw)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			grey[(y+pad)*pw+x+pad] = float32(img[y*w+x]) / 255
		}
	}
	r := resample.Bilinear(grey, ph, pw, s.size, s.size)
	plane := s.size * s.size
	x := make([]float32, 3*plane)
	for c := 0; c < 3; c++ {
		mean, std := float32(s.p.Mean[c]), float32(s.p.Std[c])
		for i, v := range r {
			x[c*plane+i] = (v - mean) / std
		}
	}
	outs, err := s.m.Run(onnx.F32(s.input, x, 1, 3, int64(s.size), int64(s.size)))
	if err != nil {
		return nil, err
	}
	o := outs[0]
	if len(o.Shape) < 2 {
		return nil, fmt.Errorf("onnx model %q: output %q has shape %v, want [..., H, W]", s.m.Path(), o.Name, o.Shape)
	}
	oh, ow := int(o.Shape[len(o.Shape)-2]), int(o.Shape[len(o.Shape)-1])
	if oh*ow != len(o.F32) {
		return nil, fmt.Errorf("onnx model %q: output %q has shape %v, want one map [1, 1, H, W]", s.m.Path(), o.Name, o.Shape)
	}
	sal := o.F32
	if s.p.Normalize == MinMax {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range sal {
			lo, hi = min(lo, v), max(hi, v)
		}
		norm := make([]float32, len(sal))
		if hi > lo {
			for i, v := range sal {
				norm[i] = (v - lo) / (hi - lo)
			}
		}
		sal = norm
	}
	back := resample.Bilinear(sal, oh, ow, ph, pw)
	if pad == 0 {
		return back, nil
	}
	crop := make([]float32, h*w)
	for y := 0; y < h; y++ {
		copy(crop[y*w:(y+1)*w], back[(y+pad)*pw+pad:])
	}
	return crop, nil
}

// Mask thresholds Map.
func (s *Saliency) Mask(img []uint8, h, w int) ([]uint8, error) {
	sal, err := s.Map(img, h, w)
	if err != nil {
		return nil, err
	}
	mask := make([]uint8, len(sal))
	for i, v := range sal {
		if float64(v) > s.p.Threshold {
			mask[i] = 1
		}
	}
	return mask, nil
}
