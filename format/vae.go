package format

import (
	"os"
	"path/filepath"
)

// TypeVAE is the vae-train kind's output: model/ (the VAE's manifest
// VAEManifest, one .npy per parameter and the per-category latent
// prior, written and read by nodes/vae), loss.csv, metrics.json and
// preview.png.
const TypeVAE = "vae-model"

// VAEManifest is the manifest nodes/vae writes into a VAE's model folder
// (a test holds them equal).
const VAEManifest = "model.json"

// ResolveVAE returns the VAE model folder of dir: dir itself when it
// holds the manifest, else dir/model (a vae-train node's output).
func ResolveVAE(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, VAEManifest)); err == nil {
		return dir
	}
	return filepath.Join(dir, ModelDir)
}

// VAELossHeader is the header of a vae-train node's loss.csv (the same
// file name as train's LossFile, another format): per step of the train
// and finetune phases, the reconstruction and KL terms and their total.
// Reports recognise it by this header and do not plot it.
var VAELossHeader = []string{"phase", "iteration", "recon", "kl", "loss"}
