package spoil

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"dagrun/format"
	"dagrun/nodes"
)

// InstanceTypes are the defect types of the spoil kind, in the order their
// items are drawn.
var InstanceTypes = []string{"wrong_category", "empty_mask", "box_mask", "fragment", "multi", "noise"}

// Params are the params of the spoil kind: one rate per defect type.
type Params struct {
	WrongCategory float64 `yaml:"wrong_category" json:"wrong_category" doc:"fraction of items that show another category's object (image and mask of a seeded item of another label), keeping their label"`
	EmptyMask     float64 `yaml:"empty_mask" json:"empty_mask" doc:"fraction of items whose mask shrinks to a speck of 1 to 4 of its pixels (an annotator that found nothing)"`
	BoxMask       float64 `yaml:"box_mask" json:"box_mask" doc:"fraction of items whose mask becomes the whole crop, background included"`
	Fragment      float64 `yaml:"fragment" json:"fragment" doc:"fraction of items whose mask keeps only the part of the object on one side of a seeded cut through its middle"`
	Multi         float64 `yaml:"multi" json:"multi" doc:"fraction of items whose crop shows two objects side by side (itself and a seeded other item, each at half size), under its one label"`
	Noise         float64 `yaml:"noise" json:"noise" doc:"fraction of items whose pixels get heavy Gaussian noise of std noise_sigma (mask kept)"`
	NoiseSigma    float64 `yaml:"noise_sigma" json:"noise_sigma" doc:"std of the noise defect on the 0-255 scale"`
	Seed          uint64  `yaml:"seed" json:"seed" doc:"seeds which items get which defect and every defect's own draws"`
	Source        string  `yaml:"source" json:"source" doc:"source tag of the output (empty: the input's)"`
	CleanOnly     bool    `yaml:"clean_only" json:"clean_only" doc:"write only the items these rates and seed leave clean (the oracle's pool: exactly the defective items dropped, decided without reading any truth.csv)"`
}

func (p Params) rates() []float64 {
	return []float64{p.WrongCategory, p.EmptyMask, p.BoxMask, p.Fragment, p.Multi, p.Noise}
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	return checkRates(InstanceTypes, p.rates(), p.NoiseSigma)
}

func checkRates(types []string, rates []float64, sigma float64) error {
	var errs []error
	sum := 0.0
	for k, r := range rates {
		if !(r >= 0 && r <= 1) {
			errs = append(errs, fmt.Errorf("%s %v must be in [0, 1]", types[k], r))
		}
		sum += r
	}
	if sum > 1+1e-9 {
		errs = append(errs, fmt.Errorf("the rates sum to %v, more than 1", sum))
	}
	if !(sigma >= 0) || math.IsInf(sigma, 0) {
		errs = append(errs, fmt.Errorf("noise_sigma %v must be a non-negative number", sigma))
	}
	return errors.Join(errs...)
}

// Kind returns the spoil kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "spoil",
		Doc:     "an instances pool with a seeded fraction of items replaced by defects of named types (wrong_category, empty_mask, box_mask, fragment, multi, noise), and truth.csv saying which",
		Version: 1,
		Inputs: []nodes.Slot{{Name: "instances", Doc: "the instances dir to spoil (a select node's output)",
			Accepts: []string{format.TypeInstances}}},
		Produces: format.TypeInstances,
		Outputs:  []string{format.ImagesFile, format.MasksFile, format.LabelsFile, format.InstancesScoresFile, format.MetaFile, format.TruthFile},
	}, func() Params { return Params{NoiseSigma: 80} }, func(_ nodes.Build, p Params) (nodes.Node, error) {
		return &Node{Params: p}, nil
	})
}

// Node is a configured spoil node.
type Node struct{ Params Params }

// Spoil applies the defects in place and returns each item's truth.
func Spoil(in *format.Instances, p Params) ([]string, error) {
	rng := rand.New(rand.NewPCG(p.Seed, 0x73706f696c)) // "spoil"
	hw := in.H * in.W
	mask := func(i int) []uint8 { return in.Masks[i*hw : (i+1)*hw] }
	img := func(i int) []uint8 { return in.Images[i*hw : (i+1)*hw] }
	// Only items with an object of two pixels or more can be spoiled: an
	// empty mask is already a defect the train kind skips.
	truth, err := assign(in.N, InstanceTypes, p.rates(), func(i int) bool { return len(maskPixels(mask(i))) >= 2 }, rng)
	if err != nil {
		return nil, err
	}
	// Defects that borrow another item borrow its original pixels.
	origImg, origMask := slices.Clone(in.Images), slices.Clone(in.Masks)
	oImg := func(i int) []uint8 { return origImg[i*hw : (i+1)*hw] }
	oMask := func(i int) []uint8 { return origMask[i*hw : (i+1)*hw] }
	other := func(i int, differentLabel bool) (int, error) {
		var cand []int
		for j := range in.N {
			if j != i && (!differentLabel || in.Labels[j] != in.Labels[i]) && len(maskPixels(oMask(j))) > 0 {
				cand = append(cand, j)
			}
		}
		if len(cand) == 0 {
			return 0, fmt.Errorf("item %d: no other item to borrow from", i)
		}
		return cand[rng.IntN(len(cand))], nil
	}
	for i, t := range truth {
		switch t {
		case "":
			truth[i] = format.TruthClean
		case "wrong_category":
			j, err := other(i, true)
			if err != nil {
				return nil, fmt.Errorf("wrong_category: %w (it needs items of two labels)", err)
			}
			copy(img(i), oImg(j))
			copy(mask(i), oMask(j))
		case "empty_mask":
			fewPixels(mask(i), rng)
		case "box_mask":
			for k := range mask(i) {
				mask(i)[k] = 1
			}
		case "fragment":
			fragment(mask(i), in.W, rng)
		case "multi":
			j, err := other(i, false)
			if err != nil {
				return nil, fmt.Errorf("multi: %w", err)
			}
			pair(img(i), mask(i), oImg(i), oMask(i), oImg(j), oMask(j), in.H, in.W)
		case "noise":
			addNoise(img(i), p.NoiseSigma, rng)
		}
	}
	return truth, nil
}

// Run writes the spoiled instances dir and its truth.csv.
func (n *Node) Run(ctx context.Context, env *nodes.Env) error {
	dir := env.Input("instances")
	if dir == "" {
		return errors.New("spoil: no instances input")
	}
	in, err := format.LoadInstances(dir)
	if err != nil {
		return fmt.Errorf("spoil: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	truth, err := Spoil(in, n.Params)
	if err != nil {
		return fmt.Errorf("spoil: %w", err)
	}
	if n.Params.Source != "" {
		in.Meta.Source = n.Params.Source
	}
	if n.Params.CleanOnly {
		in, truth = cleanInstances(in, truth)
	}
	if err := in.Save(env.OutDir); err != nil {
		return fmt.Errorf("spoil: write instances: %w", err)
	}
	if err := writeTruth(env.OutDir, truth); err != nil {
		return fmt.Errorf("spoil: %w", err)
	}
	env.Report(1, 1)
	return nil
}

func writeTruth(dir string, truth []string) error {
	b, err := format.WriteTruth(truth)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, format.TruthFile), b, 0o644)
}

// cleanInstances keeps the items whose truth is clean, in order.
func cleanInstances(in *format.Instances, truth []string) (*format.Instances, []string) {
	hw := in.H * in.W
	out := &format.Instances{H: in.H, W: in.W, Meta: in.Meta}
	for i, t := range truth {
		if t != format.TruthClean {
			continue
		}
		out.N++
		out.Images = append(out.Images, in.Images[i*hw:(i+1)*hw]...)
		out.Masks = append(out.Masks, in.Masks[i*hw:(i+1)*hw]...)
		out.Labels = append(out.Labels, in.Labels[i])
		out.Scores = append(out.Scores, in.Scores[i])
	}
	clean := make([]string, out.N)
	for i := range clean {
		clean[i] = format.TruthClean
	}
	return out, clean
}
