package nn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"dagrun/lib/artifact"
)

// ManifestFile is the name of the JSON manifest Save writes beside the
// parameter files.
const ManifestFile = "model.json"

// Manifest describes a saved model: its config and, in order, every
// parameter with its .npy file. Linear weights are stored [in, out], the
// transpose of PyTorch's nn.Linear.weight; conv weights are [out, in, kh, kw]
// as in PyTorch.
type Manifest struct {
	Format string          `json:"format"`
	Config Config          `json:"config"`
	Params []ManifestParam `json:"params"`
}

// ManifestParam is one saved parameter.
type ManifestParam struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
	File  string `json:"file"`
	DType string `json:"dtype"`
}

const manifestFormat = "dagrun-nn/1"

// Save writes one .npy per parameter and the manifest into dir (created if
// needed). The bytes depend only on the config and the weights.
func (m *Model) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	man := Manifest{Format: manifestFormat, Config: m.cfg.withDefaults()}
	for _, p := range m.Params() {
		mp := ManifestParam{Name: p.Name, Shape: p.Shape, File: p.Name + ".npy"}
		var a *artifact.Array
		if p.F64 != nil {
			a = artifact.F64Array(p.F64, p.Shape...)
		} else {
			a = artifact.F32Array(p.F32, p.Shape...)
		}
		mp.DType = a.DType
		if err := artifact.SaveNPY(filepath.Join(dir, mp.File), a); err != nil {
			return fmt.Errorf("save model: parameter %q: %w", p.Name, err)
		}
		man.Params = append(man.Params, mp)
	}
	b, err := json.MarshalIndent(man, "", "  ")
	if err != nil {
		return fmt.Errorf("save model: encode manifest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	return nil
}

// Load reads a model written by Save.
func Load(dir string) (*Model, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	var man Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&man); err != nil {
		return nil, fmt.Errorf("load model: decode %q: %w", ManifestFile, err)
	}
	if man.Format != manifestFormat {
		return nil, fmt.Errorf("load model: format %q, want %q", man.Format, manifestFormat)
	}
	m, err := New(man.Config)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	params := m.Params()
	if len(man.Params) != len(params) {
		return nil, fmt.Errorf("load model: manifest lists %d parameters, %q has %d", len(man.Params), m.cfg.Arch, len(params))
	}
	for i, p := range params {
		mp := man.Params[i]
		if mp.Name != p.Name || !slices.Equal(mp.Shape, p.Shape) {
			return nil, fmt.Errorf("load model: parameter %d is %q %v, want %q %v", i, mp.Name, mp.Shape, p.Name, p.Shape)
		}
		if filepath.Base(mp.File) != mp.File {
			return nil, fmt.Errorf("load model: parameter %q: file %q is not a plain name", mp.Name, mp.File)
		}
		a, err := artifact.LoadNPY(filepath.Join(dir, mp.File))
		if err != nil {
			return nil, fmt.Errorf("load model: parameter %q: %w", p.Name, err)
		}
		if !slices.Equal(a.Shape, p.Shape) {
			return nil, fmt.Errorf("load model: parameter %q: file shape %v, want %v", p.Name, a.Shape, p.Shape)
		}
		switch {
		case p.F32 != nil && a.DType == "<f4":
			copy(p.F32, a.F32)
		case p.F64 != nil && a.DType == "<f8":
			copy(p.F64, a.F64)
		default:
			return nil, fmt.Errorf("load model: parameter %q: dtype %q does not match the model", p.Name, a.DType)
		}
	}
	return m, nil
}
