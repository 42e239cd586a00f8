package vae

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"dagrun/nodes"
	"dagrun/nodes/data"
)

// runKind builds a node of kind k with its default params changed by set and
// runs it on inputs, returning its output dir.
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
	n, err := k.New(b, p)
	if err != nil {
		return "", err
	}
	out := t.TempDir()
	env := &nodes.Env{Inputs: inputs, OutDir: out, TempDir: t.TempDir()}
	return out, n.Run(context.Background(), env)
}

// treeDigest hashes every file under dir with its relative path.
func treeDigest(t *testing.T, dir string) string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(dir, f)
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fixture is an lt-seg benchmark built once from the real datasets.
type fixture struct {
	once sync.Once
	dir  string
	err  error
}

var realBench fixture

// TestMain removes the shared lt-seg fixture after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if realBench.dir != "" {
		os.RemoveAll(realBench.dir)
	}
	os.Exit(code)
}

// ltseg returns an lt-seg output dir (train/, test/, reference/) built from
// third_party/data, skipping the test when the datasets are absent.
func ltseg(t *testing.T) string {
	t.Helper()
	const mdir, fdir = "../../third_party/data/mnist", "../../third_party/data/fashion-mnist"
	for _, d := range []string{mdir, fdir} {
		if _, err := os.Stat(filepath.Join(d, "train-images-idx3-ubyte.gz")); err != nil {
			t.Skipf("real datasets absent at %s (run make data)", d)
		}
	}
	realBench.once.Do(func() {
		realBench.dir, realBench.err = buildLTSeg(mdir, fdir)
	})
	if realBench.err != nil {
		t.Fatal(realBench.err)
	}
	return realBench.dir
}

func buildLTSeg(mdir, fdir string) (string, error) {
	root, err := os.MkdirTemp("", "generate-ltseg-")
	if err != nil {
		return "", err
	}
	run := func(k *nodes.Kind, p any, inputs map[string][]string, out string) error {
		n, err := k.New(nodes.Build{}, p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(out, 0o755); err != nil {
			return err
		}
		return n.Run(context.Background(), &nodes.Env{Inputs: inputs, OutDir: out, TempDir: root})
	}
	mn, fa, lt := filepath.Join(root, "mnist"), filepath.Join(root, "fashion"), filepath.Join(root, "ltseg")
	if err := run(data.DatasetKind(), &data.DatasetParams{Name: "mnist", Dir: mdir}, nil, mn); err != nil {
		return "", err
	}
	if err := run(data.DatasetKind(), &data.DatasetParams{Name: "fashion-mnist", Dir: fdir}, nil, fa); err != nil {
		return "", err
	}
	p := data.DefaultLTSegParams()
	p.Seed, p.ReferencePerClass = 1, 500
	if err := run(data.LTSegKind(), &p, map[string][]string{"mnist": {mn}, "fashion": {fa}}, lt); err != nil {
		return "", err
	}
	return lt, nil
}
