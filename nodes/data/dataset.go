package data

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"dagrun/format"
	"dagrun/nodes"
)

// DatasetParams are the params of the dataset kind.
type DatasetParams struct {
	Name    string   `yaml:"name" json:"name" doc:"mnist, fashion-mnist (their class names built in) or idx (any four idx files in dir)"`
	Dir     string   `yaml:"dir" json:"dir" doc:"folder of the four idx files (train/t10k images and labels, each raw or .gz), relative to the spec; required for idx; empty: $DAGRUN_DATA/<name>, then third_party/data/<name> above the spec, then (fashion-mnist) /usr/share/datasets/fashion-mnist; the files' content enters the key, and so does dir as written"`
	Classes []string `yaml:"classes" json:"classes,omitempty" doc:"idx only: the class names in label order (empty: 0, 1, … up to the largest label)"`
	// MirrorSafe: mnist's digits are not mirror-safe (a mirrored 3 is no
	// digit), fashion-mnist's garments, shoes and bags are.
	MirrorSafe bool `yaml:"mirror_safe" json:"mirror_safe,omitempty" doc:"idx only: whether every class's left-right mirror image keeps its meaning, written to meta.json's mirror_safe (train flips only mirror-safe categories); mnist is fixed to false (digits), fashion-mnist to true"`
}

// Validate implements nodes.Validator.
func (p DatasetParams) Validate() error {
	switch p.Name {
	case "mnist", "fashion-mnist":
		if len(p.Classes) > 0 {
			return fmt.Errorf("classes: %q has fixed class names; classes is for idx sets", p.Name)
		}
		if p.MirrorSafe {
			return fmt.Errorf("mirror_safe: %q has fixed mirror-safety (mnist none, fashion-mnist all); mirror_safe is for idx sets", p.Name)
		}
	case "idx":
		if p.Dir == "" {
			return errors.New("dir: an idx dataset needs dir, the directory holding its four idx files")
		}
	default:
		return fmt.Errorf("name: unknown dataset %q (want mnist, fashion-mnist or idx)", p.Name)
	}
	return nil
}

type idxFile struct{ key, file string }

// idxFiles are the standard idx file names without the optional .gz, with
// their fingerprint keys.
func idxFiles() [4]idxFile {
	return [4]idxFile{
		{"train-images", "train-images-idx3-ubyte"},
		{"train-labels", "train-labels-idx1-ubyte"},
		{"test-images", "t10k-images-idx3-ubyte"},
		{"test-labels", "t10k-labels-idx1-ubyte"},
	}
}

// MNISTClasses are MNIST's class names.
func MNISTClasses() []string {
	return []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
}

// FashionClasses are Fashion-MNIST's class names, in label order.
func FashionClasses() []string {
	return []string{"t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"}
}

// DatasetKind reads MNIST, Fashion-MNIST or any set of idx files into
// train/ and test/ classification dataset dirs. With dir empty it looks in
// $DAGRUN_DATA/<name>, then in third_party/data/<name> under the spec's
// directory and each of its ancestors, then (fashion-mnist only) in
// /usr/share/datasets/fashion-mnist, where Debian's dataset-fashion-mnist
// puts it.
func DatasetKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:     "dataset",
		Doc:      "real image classification data from idx files (mnist, fashion-mnist, idx) as train/ and test/",
		Version:  2,
		Produces: format.TypeSplits,
		Outputs:  []string{format.SplitsTrain, format.SplitsTest},
	}, func() DatasetParams { return DatasetParams{Name: "mnist"} }, func(b nodes.Build, p DatasetParams) (nodes.Node, error) {
		return &datasetNode{p: p, specDir: b.Dir}, nil
	})
}

type datasetNode struct {
	p       DatasetParams
	specDir string
}

// findIDX returns the paths of the four idx files in dir (each .gz or raw),
// or an error naming the first one missing.
func findIDX(dir string) ([4]string, error) {
	var out [4]string
	for i, f := range idxFiles() {
		for _, name := range []string{f.file + ".gz", f.file} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				out[i] = p
				break
			}
		}
		if out[i] == "" {
			return out, fmt.Errorf("%q has no %s(.gz)", dir, f.file)
		}
	}
	return out, nil
}

// files locates the idx files following the documented search order.
func (n *datasetNode) files() ([4]string, error) {
	if n.p.Dir != "" {
		dir := n.p.Dir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(n.specDir, dir)
		}
		f, err := findIDX(dir)
		if err != nil {
			return f, fmt.Errorf("dataset %q: %w", n.p.Name, err)
		}
		return f, nil
	}
	return IDXFiles(n.p.Name, n.specDir)
}

// IDXFiles locates the idx files of the named dataset as the dataset kind
// does without params.dir: $DAGRUN_DATA/<name>, then third_party/data/<name>
// in specDir or any folder above it, then (fashion-mnist) the system dataset
// folder. Tests that need the data skip on its error.
func IDXFiles(name, specDir string) ([4]string, error) {
	var tried []string
	if d := os.Getenv("DAGRUN_DATA"); d != "" {
		tried = append(tried, filepath.Join(d, name))
	}
	start, err := filepath.Abs(specDir)
	if err != nil {
		return [4]string{}, fmt.Errorf("dataset %q: %w", name, err)
	}
	for d := start; ; {
		tried = append(tried, filepath.Join(d, "third_party", "data", name))
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	if name == "fashion-mnist" {
		tried = append(tried, "/usr/share/datasets/fashion-mnist")
	}
	for _, d := range tried {
		if f, err := findIDX(d); err == nil {
			return f, nil
		}
	}
	return [4]string{}, fmt.Errorf("dataset %q: idx files not found in $DAGRUN_DATA/%s, third_party/data/%s above %q or the system dataset folder; run `make data` (scripts/fetch-data.sh third_party/data) or set params.dir",
		name, name, name, start)
}

// Fingerprint digests the four idx files, so changing them reruns the node
// while moving them does not.
func (n *datasetNode) Fingerprint(ctx context.Context, h nodes.FileHasher) (map[string]string, error) {
	files, err := n.files()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(files))
	for i, f := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := h.FileDigest(f)
		if err != nil {
			return nil, fmt.Errorf("dataset %q: digest %q: %w", n.p.Name, f, err)
		}
		out[idxFiles()[i].key] = d
	}
	return out, nil
}

func (n *datasetNode) classes(maxLabel int) []string {
	switch n.p.Name {
	case "mnist":
		return MNISTClasses()
	case "fashion-mnist":
		return FashionClasses()
	}
	if len(n.p.Classes) > 0 {
		return n.p.Classes
	}
	c := make([]string, maxLabel+1)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

func (n *datasetNode) Run(ctx context.Context, env *nodes.Env) error {
	files, err := n.files()
	if err != nil {
		return err
	}
	var sets [2]*format.Classification
	maxLabel := 0
	for s := range sets {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := loadIDXPair(files[2*s], files[2*s+1])
		if err != nil {
			return fmt.Errorf("dataset %q: %w", n.p.Name, err)
		}
		for _, l := range c.Labels {
			maxLabel = max(maxLabel, int(l))
		}
		sets[s] = c
		env.Report(s+1, 3)
	}
	classes := n.classes(maxLabel)
	if maxLabel >= len(classes) {
		return fmt.Errorf("dataset %q: label %d but only %d class names", n.p.Name, maxLabel, len(classes))
	}
	safe := make([]bool, len(classes))
	for c := range safe {
		safe[c] = n.p.Name == "fashion-mnist" || n.p.Name == "idx" && n.p.MirrorSafe
	}
	for s, name := range []string{format.SplitsTrain, format.SplitsTest} {
		sets[s].Meta = format.ClassMeta{Classes: classes, MirrorSafe: safe}
		if err := sets[s].Save(filepath.Join(env.OutDir, name)); err != nil {
			return fmt.Errorf("dataset %q: write %s: %w", n.p.Name, name, err)
		}
	}
	env.Report(3, 3)
	return nil
}

// loadIDXPair reads an images file [N,H,W] and its labels file [N].
func loadIDXPair(images, labels string) (*format.Classification, error) {
	im, err := LoadIDX(images)
	if err != nil {
		return nil, err
	}
	lb, err := LoadIDX(labels)
	if err != nil {
		return nil, err
	}
	if len(im.Dims) != 3 {
		return nil, fmt.Errorf("%s: dimensions %v, want [N,H,W]", images, im.Dims)
	}
	if len(lb.Dims) != 1 || lb.Dims[0] != im.Dims[0] {
		return nil, fmt.Errorf("%s: dimensions %v, want [%d] to match %s", labels, lb.Dims, im.Dims[0], images)
	}
	c := &format.Classification{N: im.Dims[0], H: im.Dims[1], W: im.Dims[2], Images: im.Data, Labels: make([]int64, lb.Dims[0])}
	for i, l := range lb.Data {
		c.Labels[i] = int64(l)
	}
	return c, nil
}
