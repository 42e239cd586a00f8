package data

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"dagrun/nodes"
)

// countingHasher digests files with SHA-256 and counts the calls.
type countingHasher struct {
	mu    sync.Mutex
	calls int
}

func (h *countingHasher) FileDigest(path string) (string, error) {
	h.mu.Lock()
	h.calls++
	h.mu.Unlock()
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}

// idxBytes encodes an unsigned-byte idx file with the given dims.
func idxBytes(data []uint8, dims ...int) []byte {
	var b bytes.Buffer
	b.Write([]byte{0, 0, 0x08, byte(len(dims))})
	for _, d := range dims {
		binary.Write(&b, binary.BigEndian, uint32(d))
	}
	b.Write(data)
	return b.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// blobImage draws a random filled ellipse with a brightness ramp into an
// h×w image: a stand-in for a digit that survives thresholding.
func blobImage(rng *rand.Rand, h, w int) []uint8 {
	img := make([]uint8, h*w)
	cx, cy := float64(w)/2+rng.Float64()*4-2, float64(h)/2+rng.Float64()*4-2
	rx, ry := 3+rng.Float64()*7, 4+rng.Float64()*7
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := (float64(x)-cx)/rx, (float64(y)-cy)/ry
			if d := dx*dx + dy*dy; d < 1 {
				img[y*w+x] = uint8(120 + 135*(1-d))
			}
		}
	}
	return img
}

// writeIDXSet writes the four idx files of a synthetic 10-class set with
// perClass train and test images per class (gzipped when zip is set).
func writeIDXSet(t *testing.T, dir string, seed uint64, perClass int, zip bool) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 9))
	for _, split := range []string{"train", "t10k"} {
		n := perClass * 10
		var imgs, labs []uint8
		for i := 0; i < n; i++ {
			imgs = append(imgs, blobImage(rng, 28, 28)...)
			labs = append(labs, uint8((i*7)%10))
		}
		files := map[string][]byte{
			split + "-images-idx3-ubyte": idxBytes(imgs, n, 28, 28),
			split + "-labels-idx1-ubyte": idxBytes(labs, n),
		}
		for name, b := range files {
			if zip {
				name, b = name+".gz", gz(b)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runKind builds a node of k with params (mutated by set) and runs it,
// returning its output dir.
func runKind[P any](t *testing.T, k *nodes.Kind, b nodes.Build, set func(*P), inputs map[string][]string) string {
	t.Helper()
	out, err := tryRunKind(t, k, b, set, inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryRunKind[P any](t *testing.T, k *nodes.Kind, b nodes.Build, set func(*P), inputs map[string][]string) (string, error) {
	t.Helper()
	p := k.Params().(*P)
	if set != nil {
		set(p)
	}
	n, err := k.Construct(b, p)
	if err != nil {
		return "", err
	}
	out := t.TempDir()
	env := &nodes.Env{Inputs: inputs, OutDir: out, TempDir: t.TempDir()}
	return out, n.Run(context.Background(), env)
}

// synthDataset writes a synthetic set as idx files and runs the dataset kind
// on it, returning the node's output dir (train/ and test/).
func synthDataset(t *testing.T, seed uint64, perClass int) string {
	t.Helper()
	dir := t.TempDir()
	writeIDXSet(t, dir, seed, perClass, true)
	return runKind(t, DatasetKind(), nodes.Build{}, func(p *DatasetParams) {
		p.Name, p.Dir = "idx", dir
	}, nil)
}

// treeBytes reads every file under dir, keyed by relative path.
func treeBytes(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
