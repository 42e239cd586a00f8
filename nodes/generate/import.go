package generate

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"dagrun/format"
	"dagrun/lib/resample"
	"dagrun/nodes"
)

// ImportParams are the params of the pool-import kind.
type ImportParams struct {
	Dir      string   `yaml:"dir" json:"dir" doc:"sub-folder of the input holding the category folders (default: the input itself)"`
	Size     int      `yaml:"size" json:"size" doc:"side of the square pool images"`
	Classes  []string `yaml:"classes" json:"classes,omitempty" doc:"category names (or bind the classes input)"`
	Source   string   `yaml:"source" json:"source" doc:"source tag written to meta.json"`
	PerClass int      `yaml:"per_class" json:"per_class" doc:"keep at most this many images per category, first by file name (0: all)"`
	Invert   bool     `yaml:"invert" json:"invert" doc:"invert grey levels (objects on white backgrounds become bright on black)"`
	Preview  int      `yaml:"preview" json:"preview" doc:"items per category in preview.png"`
}

// ImportKind turns a folder of PNGs written by any program into a pool.
func ImportKind() *nodes.Kind {
	return &nodes.Kind{
		Name: "pool-import",
		Doc:  "make a pool from PNGs written by an external generator ({in}/<category name or id>/*.png), resized to size×size grey, aspect kept",
		Inputs: []nodes.Slot{
			{Name: "images", Doc: "folder with one sub-folder of PNGs per category (e.g. a command node's output)"},
			classesSlot,
		},
		Version:  1,
		Produces: format.TypePool,
		Outputs:  []string{format.ImagesFile, format.LabelsFile, format.MetaFile, format.PreviewFile},
		Params:   func() any { return &ImportParams{Size: 28, Source: "import", Preview: 8} },
		New: func(_ nodes.Build, params any) (nodes.Node, error) {
			p := *params.(*ImportParams)
			var errs []error
			if p.Size < 1 {
				errs = append(errs, fmt.Errorf("size must be at least 1, got %d", p.Size))
			}
			if p.PerClass < 0 {
				errs = append(errs, fmt.Errorf("per_class must not be negative, got %d", p.PerClass))
			}
			if p.Preview < 1 {
				errs = append(errs, fmt.Errorf("preview must be at least 1, got %d", p.Preview))
			}
			if p.Source == "" {
				errs = append(errs, errors.New("source must not be empty"))
			}
			if filepath.IsAbs(p.Dir) || slices.Contains(strings.Split(filepath.ToSlash(p.Dir), "/"), "..") {
				errs = append(errs, fmt.Errorf("dir %q must be a relative path inside the input", p.Dir))
			}
			return &importNode{p: p}, errors.Join(errs...)
		},
	}
}

type importNode struct{ p ImportParams }

// Run implements nodes.Node.
func (n *importNode) Run(ctx context.Context, env *nodes.Env) error {
	names, err := classNames(n.p.Classes, env)
	if err != nil {
		return err
	}
	root := filepath.Join(env.Input("images"), n.p.Dir)
	entries, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("read images: %w", err)
	}
	files := make([][]string, len(names))
	for _, e := range entries {
		if !e.IsDir() {
			continue // logs and other files beside the category folders
		}
		c := slices.Index(names, e.Name())
		if c < 0 {
			id, err := strconv.Atoi(e.Name())
			if err != nil || id < 0 || id >= len(names) || strconv.Itoa(id) != e.Name() {
				return fmt.Errorf("read images: folder %q is neither a category name nor an id in 0..%d", e.Name(), len(names)-1)
			}
			c = id
		}
		if files[c] != nil {
			return fmt.Errorf("read images: category %q has two folders (by name and by id)", names[c])
		}
		sub, err := os.ReadDir(filepath.Join(root, e.Name()))
		if err != nil {
			return fmt.Errorf("read images: %w", err)
		}
		files[c] = []string{}
		for _, f := range sub {
			if f.Type().IsRegular() && strings.EqualFold(filepath.Ext(f.Name()), ".png") {
				files[c] = append(files[c], filepath.Join(root, e.Name(), f.Name()))
			}
		}
		slices.Sort(files[c]) // ReadDir sorts already; the order is the contract
		if n.p.PerClass > 0 && len(files[c]) > n.p.PerClass {
			files[c] = files[c][:n.p.PerClass]
		}
	}
	total := 0
	for _, f := range files {
		total += len(f)
	}
	if total == 0 {
		return fmt.Errorf("read images: no PNG files under %q in category folders", root)
	}
	pool := &format.Pool{H: n.p.Size, W: n.p.Size, Meta: format.PoolMeta{Classes: names, Source: n.p.Source}}
	done := 0
	for c, fs := range files {
		pool.Meta.PerClass = max(pool.Meta.PerClass, len(fs))
		for _, f := range fs {
			if err := ctx.Err(); err != nil {
				return err
			}
			img, err := readGreyPNG(f)
			if err != nil {
				return fmt.Errorf("read images: %w", err)
			}
			b := img.Bounds()
			src := make([]float64, b.Dx()*b.Dy())
			for y := range b.Dy() {
				for x := range b.Dx() {
					v := float64(img.GrayAt(b.Min.X+x, b.Min.Y+y).Y)
					if n.p.Invert {
						v = 255 - v
					}
					src[y*b.Dx()+x] = v
				}
			}
			for _, v := range resample.FitCentered(src, b.Dx(), b.Dy(), n.p.Size, n.p.Size) {
				pool.Images = append(pool.Images, resample.ToByte(v))
			}
			pool.Labels = append(pool.Labels, int64(c))
			done++
			env.Report(done, total)
		}
	}
	return pool.Save(env.OutDir, n.p.Preview)
}

// readGreyPNG decodes a PNG and converts it to 8-bit grey (Go's luma
// weights; transparent pixels count as black).
func readGreyPNG(path string) (*image.Gray, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("decode %q: %w", path, err)
	}
	if g, ok := img.(*image.Gray); ok {
		return g, nil
	}
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.SetGray(x, y, color.GrayModel.Convert(img.At(x, y)).(color.Gray))
		}
	}
	return g, nil
}
