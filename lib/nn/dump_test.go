package nn

import (
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"dagrun/lib/artifact"
)

var dumpDir = flag.String("dump", "", "directory to write networks, a batch, the loss and the flat gradient for scripts/torch_check.py")

// dumpCases are the networks scripts/torch_check.py rebuilds in PyTorch, at
// the sizes the experiments use.
var dumpCases = []testCase{
	{"mlp", Config{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{64, 32}, Seed: 1}, 8, false},
	{"cnn", Config{Arch: ArchCNN, Classes: 10, H: 28, W: 28, Seed: 2}, 8, false},
	{"fcn", Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32, Seed: 3}, 4, false},
	{"fcn-weighted", Config{Arch: ArchFCN, Classes: 20, H: 32, W: 32, Seed: 4}, 4, true},
}

// TestDumpForTorch writes, per network, DIR/NAME/{model/, x.npy, y.npy,
// [w.npy,] loss.npy, grad.npy} (float32 model, loss in float64). Run:
//
//	go test ./lib/nn -run TestDumpForTorch -dump /tmp/nncheck
//	/usr/bin/python3 scripts/torch_check.py /tmp/nncheck
func TestDumpForTorch(t *testing.T) {
	if *dumpDir == "" {
		t.Skip("no -dump directory")
	}
	for _, tc := range dumpCases {
		dir := filepath.Join(*dumpDir, tc.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		m := mustNew(t, tc.cfg)
		x, y, w := tc.batch(17)
		// Perturb every parameter (biases start at zero) so that the check
		// covers them all.
		r := rand.New(rand.NewPCG(tc.cfg.Seed, 99))
		p := m.FlatParams()
		for i := range p {
			p[i] += 0.05 * float32(r.NormFloat64())
		}
		if err := m.SetFlatParams(p); err != nil {
			t.Fatal(err)
		}
		loss, g, err := m.FlatGrad(x, y, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(filepath.Join(dir, "model")); err != nil {
			t.Fatal(err)
		}
		cfg := m.Config()
		y64 := make([]int64, len(y))
		for i, v := range y {
			y64[i] = int64(v)
		}
		yShape := []int{tc.n}
		if cfg.Segmentation() {
			yShape = []int{tc.n, cfg.H, cfg.W}
		}
		arrays := map[string]*artifact.Array{
			"x.npy":    artifact.F32Array(x, tc.n, cfg.H, cfg.W),
			"y.npy":    artifact.I64Array(y64, yShape...),
			"loss.npy": artifact.F64Array([]float64{loss}, 1),
			"grad.npy": artifact.F32Array(g, len(g)),
		}
		if w != nil {
			arrays["w.npy"] = artifact.F32Array(w, yShape...)
		}
		for name, a := range arrays {
			if err := artifact.SaveNPY(filepath.Join(dir, name), a); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("%s: %d params, loss %.6f", tc.name, len(g), loss)
	}
}
