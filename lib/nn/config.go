package nn

import (
	"errors"
	"fmt"
	"slices"
)

// Architecture names accepted in Config.Arch.
const (
	ArchMLP = "mlp"
	ArchCNN = "cnn"
	ArchFCN = "fcn"
)

// Config describes a network. It is stored in the model manifest, so two
// models with equal configs and equal weights compute the same function.
type Config struct {
	// Arch is "mlp", "cnn" or "fcn".
	Arch string `json:"arch"`
	// Classes is the number of categories K. Classifiers (mlp, cnn) output K
	// logits; the segmenter (fcn) outputs K+1 per pixel, index 0 being
	// background and c+1 category c.
	Classes int `json:"classes"`
	// H and W are the input image size (one grey channel).
	H int `json:"h"`
	W int `json:"w"`
	// Hidden lists the hidden layer widths of an mlp (default [128]).
	Hidden []int `json:"hidden,omitempty"`
	// Channels lists the conv widths: cnn [c1, c2] (default [8, 16]); fcn
	// [c1, c2] for the full- and half-resolution stages (default [16, 32]).
	Channels []int `json:"channels,omitempty"`
	// Seed seeds the He-normal initialization.
	Seed uint64 `json:"seed"`
	// Float64 builds the network in float64 (for gradient checks); the default
	// is float32.
	Float64 bool `json:"float64,omitempty"`
}

// withDefaults returns c with empty layer lists filled in.
func (c Config) withDefaults() Config {
	c.Hidden = slices.Clone(c.Hidden)
	c.Channels = slices.Clone(c.Channels)
	switch c.Arch {
	case ArchMLP:
		if len(c.Hidden) == 0 {
			c.Hidden = []int{128}
		}
	case ArchCNN:
		if len(c.Channels) == 0 {
			c.Channels = []int{8, 16}
		}
	case ArchFCN:
		if len(c.Channels) == 0 {
			c.Channels = []int{16, 32}
		}
	}
	return c
}

// validate checks a defaulted config.
func (c Config) validate() error {
	var errs []error
	if c.Classes < 1 {
		errs = append(errs, fmt.Errorf("classes must be at least 1, got %d", c.Classes))
	}
	if c.H < 1 || c.W < 1 {
		errs = append(errs, fmt.Errorf("input size %dx%d must be positive", c.H, c.W))
	}
	positive := func(what string, xs []int) {
		for _, x := range xs {
			if x < 1 {
				errs = append(errs, fmt.Errorf("%s %v must all be positive", what, xs))
				return
			}
		}
	}
	switch c.Arch {
	case ArchMLP:
		positive("hidden", c.Hidden)
		if len(c.Channels) > 0 {
			errs = append(errs, errors.New("an mlp takes hidden, not channels"))
		}
	case ArchCNN, ArchFCN:
		positive("channels", c.Channels)
		if len(c.Channels) != 2 {
			errs = append(errs, fmt.Errorf("%s takes 2 channels, got %v", c.Arch, c.Channels))
		}
		if len(c.Hidden) > 0 {
			errs = append(errs, fmt.Errorf("%s takes channels, not hidden", c.Arch))
		}
		if c.H%4 != 0 && c.Arch == ArchCNN || c.W%4 != 0 && c.Arch == ArchCNN {
			errs = append(errs, fmt.Errorf("cnn input %dx%d must be divisible by 4 (two 2x2 pools)", c.H, c.W))
		}
		if c.Arch == ArchFCN && (c.H%2 != 0 || c.W%2 != 0) {
			errs = append(errs, fmt.Errorf("fcn input %dx%d must be even (one 2x2 pool)", c.H, c.W))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown arch %q (want %q, %q or %q)", c.Arch, ArchMLP, ArchCNN, ArchFCN))
	}
	return errors.Join(errs...)
}

// Segmentation reports whether the network labels pixels rather than images.
func (c Config) Segmentation() bool { return c.Arch == ArchFCN }

// Outputs is the number of logits per image (classifiers) or per pixel
// (segmenter): K, or K+1 with background.
func (c Config) Outputs() int {
	if c.Segmentation() {
		return c.Classes + 1
	}
	return c.Classes
}
