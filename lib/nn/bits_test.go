package nn

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateBits = flag.Bool("update-bits", false, "rewrite testdata/bits.golden")

// bitsCases are the model sizes of the experiments (float32), so that the
// golden digests below pin the exact numbers the cached train, evaluate and
// score nodes were computed with.
var bitsCases = []testCase{
	{"mlp-784-128", Config{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{128}}, 32, false},
	{"mlp-weighted", Config{Arch: ArchMLP, Classes: 10, H: 28, W: 28, Hidden: []int{64}}, 17, true},
	{"cnn-28", Config{Arch: ArchCNN, Classes: 10, H: 28, W: 28}, 32, false},
	{"fcn-32", Config{Arch: ArchFCN, Classes: 5, H: 32, W: 32}, 6, true},
}

func digest(loss float64, vs ...[]float32) string {
	h := sha256.New()
	binary.Write(h, binary.LittleEndian, math.Float64bits(loss))
	for _, v := range vs {
		binary.Write(h, binary.LittleEndian, v)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// TestBitsGolden pins the bits of FlatGrad, Forward and Predict on fixed
// models and batches. A change of the kernels that moves any bit fails it:
// then the kinds built on nn (train, evaluate, score, select, vae-train)
// need a version bump, and `go test ./lib/nn -run TestBitsGolden
// -update-bits` rewrites the digests.
func TestBitsGolden(t *testing.T) {
	var got strings.Builder
	for _, tc := range bitsCases {
		cfg := tc.cfg
		cfg.Seed = 11
		m := mustNew(t, cfg)
		x, y, w := tc.batch(5)
		loss, g, err := m.FlatGrad(x, y, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		fl, err := m.Forward(x, y, w)
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&got, "%s grad %s forward %s predict %s\n", tc.name, digest(loss, g), digest(fl), digest(0, p))
	}
	path := filepath.Join("testdata", "bits.golden")
	if *updateBits {
		if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("bits changed (bump the versions of the kinds built on nn, then -update-bits):\ngot:\n%swant:\n%s", got.String(), want)
	}
}
