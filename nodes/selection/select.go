package selection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/onnx"
	"dagrun/nodes"
)

// Scorer names.
const (
	ScorerClassifier = "classifier"
	ScorerCLIP       = "clip-onnx"
)

// Default score thresholds. 0.21 is X-Paste's CLIP cosine threshold. For
// the classifier, 0.5 keeps a composite only when the classifier gives its
// intended category even odds or better — then it is also the most likely
// category.
const (
	DefaultCLIPThreshold       = 0.21
	DefaultClassifierThreshold = 0.5
)

// Params configure a select node.
type Params struct {
	Scorer string `yaml:"scorer" json:"scorer" doc:"how a masked composite is scored: classifier (the softmax probability of the item's category under the scorer input, a train node's classifier on the reference corpus) or clip-onnx (the cosine between CLIP embeddings of the composite and of the prompt; needs image_model, text_model, bpe)"`
	// Threshold nil means the scorer's default.
	Threshold *float64 `yaml:"threshold" json:"threshold" doc:"drop items whose best score (over the annotators) is below it (empty: 0.5 for classifier, 0.21 for clip-onnx, X-Paste's)"`
	MinArea   float64  `yaml:"min_area" json:"min_area" doc:"drop items whose chosen mask covers less than this fraction of the image; 0 ≤ min_area ≤ max_area"`
	MaxArea   float64  `yaml:"max_area" json:"max_area" doc:"drop items whose chosen mask covers more than this fraction of the image, at most 1"`

	ImageModel  string    `yaml:"image_model" json:"-" doc:"clip-onnx: image encoder ONNX file, relative to the spec; its content digest enters the key, not its path"`
	TextModel   string    `yaml:"text_model" json:"-" doc:"clip-onnx: text encoder ONNX file, relative to the spec; its content digest enters the key, not its path"`
	BPE         string    `yaml:"bpe" json:"-" doc:"clip-onnx: CLIP BPE merges file (bpe_simple_vocab_16e6.txt[.gz] or merges.txt), relative to the spec; its content digest enters the key"`
	Vocab       string    `yaml:"vocab" json:"-" doc:"clip-onnx: optional vocab.json whose ids replace those built from the merges, relative to the spec; its content digest enters the key"`
	Prompt      string    `yaml:"prompt" json:"prompt" doc:"clip-onnx: text prompt, which must contain {category} (replaced by the category name)"`
	ImageSize   int       `yaml:"image_size" json:"image_size" doc:"clip-onnx: side of the square image encoder input in pixels (0: the model's fixed size)"`
	Mean        []float64 `yaml:"mean" json:"mean" doc:"clip-onnx: R, G, B means subtracted from the pixels scaled to [0, 1] (default: CLIP's)"`
	Std         []float64 `yaml:"std" json:"std" doc:"clip-onnx: R, G, B divisors after the mean, each positive (default: CLIP's)"`
	ImageOutput int       `yaml:"image_output" json:"image_output" doc:"clip-onnx: index of the image encoder output holding the embedding"`
	TextOutput  int       `yaml:"text_output" json:"text_output" doc:"clip-onnx: index of the text encoder output holding the embedding"`
	Threads     int       `yaml:"threads" json:"-" doc:"clip-onnx: ONNX Runtime intra-op threads per model run (0 means 1); a speed knob that results do not depend on"`
}

// DefaultParams are the defaults a spec's params override.
func DefaultParams() Params {
	return Params{Scorer: ScorerClassifier, MinArea: 0.05, MaxArea: 0.95,
		Prompt:  "a photo of a single {category}",
		Mean:    []float64{0.48145466, 0.4578275, 0.40821073},
		Std:     []float64{0.26862954, 0.26130258, 0.27577711},
		Threads: 1}
}

// EffectiveThreshold is Threshold or the scorer's default.
func (p Params) EffectiveThreshold() float64 {
	switch {
	case p.Threshold != nil:
		return *p.Threshold
	case p.Scorer == ScorerCLIP:
		return DefaultCLIPThreshold
	}
	return DefaultClassifierThreshold
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	var errs []error
	switch p.Scorer {
	case ScorerClassifier:
	case ScorerCLIP:
		for _, f := range []struct{ name, v string }{{"image_model", p.ImageModel}, {"text_model", p.TextModel}, {"bpe", p.BPE}} {
			if f.v == "" {
				errs = append(errs, fmt.Errorf("%s is required with scorer %q", f.name, ScorerCLIP))
			}
		}
		if len(p.Mean) != 3 || len(p.Std) != 3 {
			errs = append(errs, fmt.Errorf("mean %v and std %v need 3 values each", p.Mean, p.Std))
		}
		for _, s := range p.Std {
			if !(s > 0) {
				errs = append(errs, fmt.Errorf("std %v must be positive", p.Std))
				break
			}
		}
		if !strings.Contains(p.Prompt, "{category}") {
			errs = append(errs, fmt.Errorf("prompt %q lacks {category}", p.Prompt))
		}
		if p.ImageSize < 0 || p.ImageOutput < 0 || p.TextOutput < 0 || p.Threads < 0 {
			errs = append(errs, errors.New("image_size, image_output, text_output and threads must not be negative"))
		}
	default:
		errs = append(errs, fmt.Errorf("scorer %q: want %q or %q", p.Scorer, ScorerClassifier, ScorerCLIP))
	}
	if !(p.MinArea >= 0 && p.MinArea <= p.MaxArea && p.MaxArea <= 1) {
		errs = append(errs, fmt.Errorf("min_area %v and max_area %v: want 0 ≤ min_area ≤ max_area ≤ 1", p.MinArea, p.MaxArea))
	}
	return errors.Join(errs...)
}

// Kind returns the select kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "select",
		Doc:     "per item keep the annotator whose masked composite the scorer likes best; drop low scores and masks outside [min_area, max_area]",
		Version: 2,
		Inputs: []nodes.Slot{
			{Name: "pool", Doc: "the generated pool (or a classification dataset dir, for checks on real images)", Accepts: []string{format.TypePool, format.TypeClassification}},
			{Name: "masks", Doc: "one masks node per annotator, over that pool", Many: true, Accepts: []string{format.TypeMasks}},
			{Name: "scorer", Doc: "scorer classifier: a train node's classifier over the pool's classes", Optional: true, Accepts: []string{format.TypeModel}},
		},
		Produces: format.TypeInstances,
		Outputs:  []string{format.ImagesFile, format.MasksFile, format.LabelsFile, format.InstancesScoresFile, format.MetaFile, "metrics.json", "kept_vs_dropped.png"},
	}, DefaultParams, func(b nodes.Build, p Params) (nodes.Node, error) {
		abs := func(s string) string {
			if s == "" || filepath.IsAbs(s) {
				return s
			}
			return filepath.Join(b.Dir, s)
		}
		return &Node{p: p, dir: b.Dir, image: abs(p.ImageModel), text: abs(p.TextModel), bpe: abs(p.BPE), vocab: abs(p.Vocab)}, nil
	})
}

// Node is a configured select node.
type Node struct {
	p                       Params
	dir                     string
	image, text, bpe, vocab string
}

// Fingerprint implements nodes.Fingerprinter: the clip-onnx files' content.
func (n *Node) Fingerprint(_ context.Context, h nodes.FileHasher) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range []struct{ name, path string }{{"image_model", n.image}, {"text_model", n.text}, {"bpe", n.bpe}, {"vocab", n.vocab}} {
		if f.path == "" || n.p.Scorer != ScorerCLIP {
			continue
		}
		d, err := h.FileDigest(f.path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		out[f.name] = d
	}
	return out, nil
}

// Metrics is metrics.json.
type Metrics struct {
	Items        int            `json:"items"`
	Kept         int            `json:"kept"`
	KeptRate     float64        `json:"kept_rate"`
	DroppedScore int            `json:"dropped_score"`
	DroppedArea  int            `json:"dropped_area"`
	Dropped      map[string]int `json:"dropped"`
	// Chosen counts the annotators chosen for kept items; ChosenAll for
	// every item.
	Chosen        map[string]int `json:"chosen_annotator_counts"`
	ChosenAll     map[string]int `json:"chosen_annotator_counts_all"`
	MeanKeptScore float64        `json:"mean_kept_score"`
	Threshold     float64        `json:"threshold"`
}

// Run implements nodes.Node.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	if err := n.run(ctx, env); err != nil {
		return fmt.Errorf("select: %w", err)
	}
	return nil
}

func (n *Node) run(ctx context.Context, env *nodes.Env) error {
	pool, err := format.LoadPool(env.Input("pool"))
	if err != nil {
		return err
	}
	if pool.Labels == nil {
		return fmt.Errorf("pool %q has no labels.npy: the scorer needs each item's category", env.Input("pool"))
	}
	dirs := env.Inputs["masks"]
	if len(dirs) == 0 {
		return errors.New("no masks input")
	}
	masks := make([]*format.Masks, len(dirs))
	names := make([]string, len(dirs))
	seen := map[string]int{}
	for a, d := range dirs {
		if masks[a], err = format.LoadMasks(d); err != nil {
			return err
		}
		if m := masks[a]; m.N != pool.N || m.H != pool.H || m.W != pool.W {
			return fmt.Errorf("masks %d (%q) are %dx%dx%d, the pool is %dx%dx%d", a, m.Meta.Annotator, m.N, m.H, m.W, pool.N, pool.H, pool.W)
		}
		name := masks[a].Meta.Annotator
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s#%d", name, seen[name])
		}
		names[a] = name
	}
	scorer, closeFn, err := n.scorer(env, pool)
	if err != nil {
		return err
	}
	defer closeFn()

	scores := make([][]float64, len(masks))
	areas := make([][]float64, len(masks))
	hw := pool.H * pool.W
	for a, m := range masks {
		comp := make([]uint8, len(pool.Images))
		areas[a] = make([]float64, pool.N)
		for i := 0; i < pool.N; i++ {
			copy(comp[i*hw:], Composite(pool.Image(i), m.Mask(i)))
			areas[a][i] = AreaFraction(m.Mask(i))
		}
		if scores[a], err = scorer.Score(ctx, comp, pool.H, pool.W, pool.Labels); err != nil {
			return fmt.Errorf("score the %q composites: %w", names[a], err)
		}
		env.Report(a+1, len(masks))
	}
	thr := n.p.EffectiveThreshold()
	dec := Choose(scores, areas, thr, n.p.MinArea, n.p.MaxArea)
	return n.write(env.OutDir, pool, masks, names, dec, thr)
}

// scorer builds the configured scorer; closeFn frees what it holds.
func (n *Node) scorer(env *nodes.Env, pool *format.Pool) (s Scorer, closeFn func(), err error) {
	noop := func() {}
	dir := env.Input("scorer")
	if n.p.Scorer == ScorerClassifier {
		if dir == "" {
			return nil, noop, errors.New("scorer classifier needs the scorer input (a train node's classifier on the reference corpus)")
		}
		c, err := NewClassifier(filepath.Join(dir, format.ModelDir), pool.H, pool.W, pool.Meta.Classes)
		return c, noop, err
	}
	if dir != "" {
		return nil, noop, fmt.Errorf("the scorer input is only used by scorer %q; remove it or set scorer: %s", ScorerClassifier, ScorerClassifier)
	}
	tok, err := LoadTokenizer(n.bpe, n.vocab)
	if err != nil {
		return nil, noop, err
	}
	rt, err := onnx.Load(n.dir)
	if err != nil {
		return nil, noop, err
	}
	opts := onnx.Options{IntraOpThreads: n.p.Threads}
	img, err := rt.Open(n.image, opts)
	if err != nil {
		return nil, noop, err
	}
	txt, err := rt.Open(n.text, opts)
	if err != nil {
		img.Close()
		return nil, noop, err
	}
	closeFn = func() { img.Close(); txt.Close() }
	c, err := NewCLIP(img, txt, tok, pool.Meta.Classes, CLIPConfig{Prompt: n.p.Prompt, Size: n.p.ImageSize,
		Mean: n.p.Mean, Std: n.p.Std, ImageOutput: n.p.ImageOutput, TextOutput: n.p.TextOutput})
	if err != nil {
		closeFn()
		return nil, noop, err
	}
	return c, closeFn, nil
}

func (n *Node) write(out string, pool *format.Pool, masks []*format.Masks, names []string, dec []Decision, thr float64) error {
	var imgs, ms []uint8
	var labels []int64
	var scores []float32
	met := Metrics{Items: pool.N, Threshold: thr, Dropped: map[string]int{ReasonScore: 0, ReasonArea: 0},
		Chosen: map[string]int{}, ChosenAll: map[string]int{}}
	for _, name := range names {
		met.Chosen[name], met.ChosenAll[name] = 0, 0
	}
	var keptTiles, droppedTiles []image.Image
	var scoreSum float64
	for i, d := range dec {
		mask := masks[d.Best].Mask(i)
		met.ChosenAll[names[d.Best]]++
		if !d.Kept() {
			met.Dropped[d.Reason]++
			if len(droppedTiles) < 32 {
				droppedTiles = append(droppedTiles, artifact.MaskOverlay(pool.Image(i), mask, pool.H, pool.W, 1))
			}
			continue
		}
		met.Kept++
		met.Chosen[names[d.Best]]++
		scoreSum += d.Score
		imgs = append(imgs, pool.Image(i)...)
		ms = append(ms, mask...)
		labels = append(labels, pool.Labels[i])
		scores = append(scores, float32(d.Score))
		if len(keptTiles) < 32 {
			keptTiles = append(keptTiles, artifact.MaskOverlay(pool.Image(i), mask, pool.H, pool.W, 2))
		}
	}
	met.DroppedScore, met.DroppedArea = met.Dropped[ReasonScore], met.Dropped[ReasonArea]
	if pool.N > 0 {
		met.KeptRate = float64(met.Kept) / float64(pool.N)
	}
	if met.Kept > 0 {
		met.MeanKeptScore = scoreSum / float64(met.Kept)
	}
	k := met.Kept
	if imgs == nil {
		imgs, ms, labels, scores = []uint8{}, []uint8{}, []int64{}, []float32{}
	}
	inst := &format.Instances{N: k, H: pool.H, W: pool.W, Images: imgs, Masks: ms, Labels: labels, Scores: scores,
		Meta: format.InstancesMeta{Classes: pool.Meta.Classes, Source: pool.Meta.Source, Annotators: names,
			Scorer: n.p.Scorer, Threshold: thr, Kept: k, Dropped: met.Dropped, Chosen: met.Chosen}}
	if err := inst.Save(out); err != nil {
		return err
	}
	b, err := json.MarshalIndent(met, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %q: %w", "metrics.json", err)
	}
	if err := os.WriteFile(filepath.Join(out, "metrics.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %q: %w", "metrics.json", err)
	}
	return savePreview(filepath.Join(out, "kept_vs_dropped.png"), keptTiles, droppedTiles, pool.H, pool.W)
}

// savePreview draws up to 32 kept items (mask in green) in the top rows and
// up to 32 dropped ones (chosen mask in red) below, after a blank row.
func savePreview(path string, kept, dropped []image.Image, h, w int) error {
	const cols = 8
	blank := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 3; i < len(blank.Pix); i += 4 {
		blank.Pix[i] = 255 // opaque black
	}
	pad := func(t []image.Image) []image.Image {
		for len(t)%cols != 0 || len(t) == 0 {
			t = append(t, blank)
		}
		return t
	}
	tiles := pad(kept)
	for range cols {
		tiles = append(tiles, blank)
	}
	tiles = append(tiles, pad(dropped)...)
	if err := artifact.SaveGridPNG(path, tiles, cols, 2, 2); err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	return nil
}
