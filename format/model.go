package format

import (
	"os"
	"path/filepath"
)

// TypeModel is the train kind's output: model/ (a network saved by
// lib/nn: the manifest ModelManifest and one .npy per parameter),
// loss.csv (LossFile), decisions.csv, metrics.json, with a val input
// val.csv (ValFile), and gallery/. The weights are lib/nn's to write and read (see the package
// doc); this file says where they are.
const TypeModel = "model"

// ModelDir is the folder of a train node's output that holds the network.
const ModelDir = "model"

// ModelManifest is the manifest lib/nn writes into a model folder
// (nn.ManifestFile; a test holds them equal).
const ModelManifest = "model.json"

// ResolveModel returns the model folder of dir: dir/model when dir is a
// train node's output (its model/ holds the manifest), else dir itself
// (a folder holding the manifest).
func ResolveModel(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, ModelDir, ModelManifest)); err == nil {
		return filepath.Join(dir, ModelDir)
	}
	return dir
}
