package selection

import (
	"context"
	"fmt"
	"math"
	"strings"

	"dagrun/lib/nn"
	"dagrun/lib/onnx"
	"dagrun/lib/resample"
)

// Scorer rates masked composites against the category each item was
// generated for: higher is better.
type Scorer interface {
	// Score returns one score per image; imgs holds n = len(labels) h×w
	// grey images back to back.
	Score(ctx context.Context, imgs []uint8, h, w int, labels []int64) ([]float64, error)
}

// Classifier scores with a classifier trained on the reference corpus (the
// embedded stand-in for CLIP): the softmax probability of the intended
// category.
type Classifier struct {
	Model *nn.Model
	// Batch is the forward batch size (0 means 256).
	Batch int
}

// NewClassifier loads a train node's model/ and checks that it classifies
// h×w images into the given classes.
func NewClassifier(modelDir string, h, w int, classes []string) (*Classifier, error) {
	m, err := nn.Load(modelDir)
	if err != nil {
		return nil, fmt.Errorf("classifier scorer: %w", err)
	}
	c := m.Config()
	if c.Segmentation() || c.H != h || c.W != w || c.Classes != len(classes) {
		return nil, fmt.Errorf("classifier scorer %q: a %s for %dx%d images and %d classes cannot score %dx%d pool images of %d classes (train a cnn or mlp on the reference corpus)",
			modelDir, c.Arch, c.H, c.W, c.Classes, h, w, len(classes))
	}
	return &Classifier{Model: m}, nil
}

// Score implements Scorer.
func (c *Classifier) Score(ctx context.Context, imgs []uint8, h, w int, labels []int64) ([]float64, error) {
	bs := c.Batch
	if bs <= 0 {
		bs = 256
	}
	k := c.Model.Config().Classes
	hw := h * w
	out := make([]float64, 0, len(labels))
	for lo := 0; lo < len(labels); lo += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hi := min(len(labels), lo+bs)
		x := make([]float32, (hi-lo)*hw)
		for i, v := range imgs[lo*hw : hi*hw] {
			x[i] = float32(v) / 255
		}
		probs, err := c.Model.Predict(x)
		if err != nil {
			return nil, fmt.Errorf("classifier scorer: %w", err)
		}
		for i := lo; i < hi; i++ {
			out = append(out, float64(probs[(i-lo)*k+int(labels[i])]))
		}
	}
	return out, nil
}

// CLIPConfig configures a CLIP scorer.
type CLIPConfig struct {
	// Prompt is the text template; "{category}" is replaced by the class
	// name.
	Prompt string
	// Size is the image encoder's square input size (0: the model's).
	Size      int
	Mean, Std []float64
	// ImageOutput and TextOutput pick the embedding outputs.
	ImageOutput, TextOutput int
}

// CLIP scores with ONNX image and text encoders: the cosine between the
// composite's image embedding and the embedding of the prompt for its
// category.
type CLIP struct {
	img, txt *onnx.Model
	tok      *Tokenizer
	cfg      CLIPConfig
	classes  []string
	imgIn    string
	size     int
	ids      onnx.Info
	mask     string // attention-mask input, "" if none
	text     map[int64][]float32
}

// NewCLIP checks the encoders: the image encoder takes [1|N, 3, S, S]
// float32 and its ImageOutput is [1, D]; the text encoder takes int64 or
// int32 token ids [1|N, 77] (plus, optionally, an input named
// attention_mask) and its TextOutput is [1, D].
func NewCLIP(img, txt *onnx.Model, tok *Tokenizer, classes []string, cfg CLIPConfig) (*CLIP, error) {
	c := &CLIP{img: img, txt: txt, tok: tok, cfg: cfg, classes: classes, text: map[int64][]float32{}}
	in, err := img.Input("")
	if err != nil {
		return nil, err
	}
	c.imgIn, c.size = in.Name, cfg.Size
	if c.size == 0 {
		if len(in.Shape) != 4 || in.Shape[2] < 1 || in.Shape[2] != in.Shape[3] {
			return nil, fmt.Errorf("onnx model %q: input %q has shape %v without one fixed square size; set image_size", img.Path(), in.Name, in.Shape)
		}
		c.size = int(in.Shape[2])
	}
	if err := img.ExpectInput(in.Name, "float32", 1, 3, int64(c.size), int64(c.size)); err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	if err := checkOutput(img, cfg.ImageOutput); err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	for _, x := range txt.Inputs() {
		switch {
		case x.Name == "attention_mask" && len(txt.Inputs()) > 1:
			c.mask = x.Name
		case c.ids.Name == "":
			c.ids = x
		default:
			return nil, fmt.Errorf("text encoder %q: inputs %v: want token ids and optionally attention_mask", txt.Path(), txt.Inputs())
		}
	}
	if c.ids.Type != "int64" && c.ids.Type != "int32" {
		return nil, fmt.Errorf("text encoder %q: input %q holds %s, want int64 or int32 token ids", txt.Path(), c.ids.Name, c.ids.Type)
	}
	if err := txt.ExpectInput(c.ids.Name, c.ids.Type, 1, ContextLength); err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	if err := checkOutput(txt, cfg.TextOutput); err != nil {
		return nil, fmt.Errorf("text encoder: %w", err)
	}
	return c, nil
}

func checkOutput(m *onnx.Model, i int) error {
	outs := m.Outputs()
	if i < 0 || i >= len(outs) {
		return fmt.Errorf("onnx model %q: output %d requested, the model has %d", m.Path(), i, len(outs))
	}
	if outs[i].Type != "float32" || len(outs[i].Shape) != 2 {
		return fmt.Errorf("onnx model %q: output %s, want a float32 embedding [N, D]", m.Path(), outs[i])
	}
	return nil
}

// TextEmbedding returns the text encoder's embedding of the prompt for
// category c (memoized).
func (c *CLIP) TextEmbedding(cat int64) ([]float32, error) {
	if e, ok := c.text[cat]; ok {
		return e, nil
	}
	prompt := strings.ReplaceAll(c.cfg.Prompt, "{category}", c.classes[cat])
	ids, n, err := c.tok.Encode(prompt)
	if err != nil {
		return nil, err
	}
	in := []onnx.Tensor{intTensor(c.ids.Name, c.ids.Type, ids)}
	if c.mask != "" {
		m := make([]int64, ContextLength)
		for i := 0; i < n; i++ {
			m[i] = 1
		}
		mt, _ := c.txt.Input(c.mask)
		in = append(in, intTensor(c.mask, mt.Type, m))
	}
	outs, err := c.txt.Run(in...)
	if err != nil {
		return nil, fmt.Errorf("text encoder: prompt %q: %w", prompt, err)
	}
	e := outs[c.cfg.TextOutput].F32
	c.text[cat] = e
	return e, nil
}

func intTensor(name, typ string, v []int64) onnx.Tensor {
	if typ == "int32" {
		w := make([]int32, len(v))
		for i, x := range v {
			w[i] = int32(x)
		}
		return onnx.I32(name, w, 1, int64(len(v)))
	}
	return onnx.I64(name, v, 1, int64(len(v)))
}

// ImageEmbedding returns the image encoder's embedding of one h×w grey
// image: scaled to [0, 1], resized bilinearly to the input size (CLIP's
// own preprocessing resizes bicubically), copied to 3 channels and
// normalised by Mean and Std.
func (c *CLIP) ImageEmbedding(img []uint8, h, w int) ([]float32, error) {
	x := PreprocessImage(img, h, w, c.size, c.cfg.Mean, c.cfg.Std)
	outs, err := c.img.Run(onnx.F32(c.imgIn, x, 1, 3, int64(c.size), int64(c.size)))
	if err != nil {
		return nil, fmt.Errorf("image encoder: %w", err)
	}
	return outs[c.cfg.ImageOutput].F32, nil
}

// PreprocessImage turns an h×w grey image into a [3, size, size] float32
// input: v/255, bilinear resize, (x − mean[c]) / std[c].
func PreprocessImage(img []uint8, h, w, size int, mean, std []float64) []float32 {
	grey := make([]float32, len(img))
	for i, v := range img {
		grey[i] = float32(v) / 255
	}
	r := resample.Bilinear(grey, h, w, size, size)
	plane := size * size
	x := make([]float32, 3*plane)
	for ch := 0; ch < 3; ch++ {
		m, s := float32(mean[ch]), float32(std[ch])
		for i, v := range r {
			x[ch*plane+i] = (v - m) / s
		}
	}
	return x
}

// Score implements Scorer.
func (c *CLIP) Score(ctx context.Context, imgs []uint8, h, w int, labels []int64) ([]float64, error) {
	out := make([]float64, len(labels))
	hw := h * w
	for i, l := range labels {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := c.TextEmbedding(l)
		if err != nil {
			return nil, err
		}
		e, err := c.ImageEmbedding(imgs[i*hw:(i+1)*hw], h, w)
		if err != nil {
			return nil, err
		}
		if len(e) != len(t) {
			return nil, fmt.Errorf("clip scorer: image embedding has %d values, text embedding %d", len(e), len(t))
		}
		out[i] = Cosine(e, t)
	}
	return out, nil
}

// Cosine is ⟨a,b⟩ / (‖a‖·‖b‖ + 1e-8), accumulated in float64.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		ab += x * y
		aa += x * x
		bb += y * y
	}
	return ab / (math.Sqrt(aa)*math.Sqrt(bb) + 1e-8)
}
