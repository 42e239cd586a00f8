package data

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"slices"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// COCOParams are the params of the coco kind.
type COCOParams struct {
	Annotations string `yaml:"annotations" json:"annotations" doc:"a COCO or LVIS instance annotation JSON file, relative to the spec (required); its content and that of every image it names enter the key"`
	Images      string `yaml:"images" json:"images" doc:"the folder the images' file_name entries are relative to, itself relative to the spec (required)"`
	Size        int    `yaml:"size" json:"size" doc:"resize every image to size×size pixels, bilinear (masks nearest), 0 to 4096 (0: keep the images as they are, which must then share one size)"`
	// RareMax and CommonMax apply to categories that carry no LVIS
	// "frequency".
	RareMax   int `yaml:"rare_max" json:"rare_max" doc:"a category without an LVIS frequency is rare when at most this many images show it in this file (LVIS: 10)"`
	CommonMax int `yaml:"common_max" json:"common_max" doc:"a category without an LVIS frequency is common when more than rare_max and at most this many images show it, frequent above (LVIS: 100)"`
	// MirrorSafe defaults to true: COCO's and LVIS's categories are
	// objects whose mirror images are objects of the same category (their
	// reference trainers flip every image).
	MirrorSafe bool `yaml:"mirror_safe" json:"mirror_safe" doc:"whether every category's left-right mirror image keeps its meaning, written to meta.json's mirror_safe (train flips only mirror-safe categories; default true, as COCO/LVIS trainers flip every image)"`
}

// Validate implements nodes.Validator.
func (p COCOParams) Validate() error {
	if p.Annotations == "" || p.Images == "" {
		return errors.New("annotations and images are both required")
	}
	if p.Size < 0 || p.Size > 4096 {
		return fmt.Errorf("size: %d, want 0 to 4096", p.Size)
	}
	if p.RareMax < 1 || p.CommonMax <= p.RareMax {
		return fmt.Errorf("rare_max %d and common_max %d: want 1 ≤ rare_max < common_max", p.RareMax, p.CommonMax)
	}
	return nil
}

// COCOKind reads a COCO/LVIS annotation file and its images (PNG or JPEG,
// colour converted to grey) into a segmentation dataset dir. Polygon and
// RLE masks are both read; crowd annotations are skipped; where instances
// overlap, the later annotation (by id) wins. Categories are renumbered
// 1..C in id order.
func COCOKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:     "coco",
		Doc:      "a COCO/LVIS-format JSON and image folder as a segmentation dataset",
		Version:  2,
		Produces: format.TypeSegmentation,
		Outputs:  []string{format.ImagesFile, format.SemanticFile, format.InstancesFile, format.AnnotationsFile, format.MetaFile},
	}, func() COCOParams { return COCOParams{RareMax: 10, CommonMax: 100, MirrorSafe: true} }, func(b nodes.Build, p COCOParams) (nodes.Node, error) {
		abs := func(s string) string {
			if filepath.IsAbs(s) {
				return s
			}
			return filepath.Join(b.Dir, s)
		}
		return &cocoNode{p: p, ann: abs(p.Annotations), img: abs(p.Images)}, nil
	})
}

type cocoNode struct {
	p        COCOParams
	ann, img string
}

// Fingerprint digests the annotation file and every image it names.
func (n *cocoNode) Fingerprint(ctx context.Context, h nodes.FileHasher) (map[string]string, error) {
	c, err := artifact.LoadCOCO(n.ann)
	if err != nil {
		return nil, fmt.Errorf("coco: %w", err)
	}
	out := map[string]string{}
	if out["annotations"], err = h.FileDigest(n.ann); err != nil {
		return nil, fmt.Errorf("coco: digest %q: %w", n.ann, err)
	}
	for _, im := range c.Images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(n.img, im.FileName)
		if out["image:"+im.FileName], err = h.FileDigest(p); err != nil {
			return nil, fmt.Errorf("coco: digest %q: %w", p, err)
		}
	}
	return out, nil
}

func (n *cocoNode) Run(ctx context.Context, env *nodes.Env) error {
	seg, err := n.read(ctx, env)
	if err != nil {
		return fmt.Errorf("coco %q: %w", n.p.Annotations, err)
	}
	if err := seg.Save(env.OutDir); err != nil {
		return fmt.Errorf("coco %q: write: %w", n.p.Annotations, err)
	}
	return nil
}

// loadGrey decodes a PNG or JPEG file into grey pixels.
func loadGrey(path string) ([]uint8, int, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	var img image.Image
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG")):
		img, err = png.Decode(bytes.NewReader(b))
	case bytes.HasPrefix(b, []byte{0xff, 0xd8}):
		img, err = jpeg.Decode(bufio.NewReader(bytes.NewReader(b)))
	default:
		return nil, 0, 0, fmt.Errorf("%q is neither PNG nor JPEG", path)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decode %q: %w", path, err)
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			out[y*w+x] = color.GrayModel.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.Gray).Y
		}
	}
	return out, h, w, nil
}

func (n *cocoNode) read(ctx context.Context, env *nodes.Env) (*format.Segmentation, error) {
	c, err := artifact.LoadCOCO(n.ann)
	if err != nil {
		return nil, err
	}
	cats := slices.Clone(c.Categories)
	slices.SortFunc(cats, func(a, b artifact.COCOCategory) int { return cmp.Compare(a.ID, b.ID) })
	if len(cats) > 255 {
		return nil, fmt.Errorf("%d categories do not fit semantic.npy's uint8 (at most 255)", len(cats))
	}
	catIndex := map[int64]int{}
	names := make([]string, len(cats))
	for i, k := range cats {
		if _, dup := catIndex[k.ID]; dup {
			return nil, fmt.Errorf("category id %d appears twice", k.ID)
		}
		if slices.Contains(names[:i], k.Name) {
			return nil, fmt.Errorf("category name %q appears twice", k.Name)
		}
		catIndex[k.ID] = i
		names[i] = k.Name
	}
	images := slices.Clone(c.Images)
	slices.SortFunc(images, func(a, b artifact.COCOImage) int { return cmp.Compare(a.ID, b.ID) })
	anns := map[int64][]artifact.COCOAnnotation{}
	for _, a := range c.Annotations {
		anns[a.ImageID] = append(anns[a.ImageID], a)
	}
	seg := &format.Segmentation{N: len(images), H: n.p.Size, W: n.p.Size,
		COCO: &artifact.COCO{Images: []artifact.COCOImage{}, Annotations: []artifact.COCOAnnotation{}}}
	for i, im := range images {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		grey, h, w, err := loadGrey(filepath.Join(n.img, im.FileName))
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", im.ID, err)
		}
		if (im.Width != 0 && im.Width != w) || (im.Height != 0 && im.Height != h) {
			return nil, fmt.Errorf("image %d (%q) is %dx%d, annotations say %dx%d", im.ID, im.FileName, w, h, im.Width, im.Height)
		}
		ins := make([]int32, h*w)
		list := anns[im.ID]
		slices.SortFunc(list, func(a, b artifact.COCOAnnotation) int { return cmp.Compare(a.ID, b.ID) })
		k := int32(0)
		var instCat []int
		for _, a := range list {
			if a.IsCrowd != 0 {
				continue
			}
			ci, ok := catIndex[a.CategoryID]
			if !ok {
				return nil, fmt.Errorf("annotation %d: unknown category id %d", a.ID, a.CategoryID)
			}
			m, err := a.Segmentation.Mask(h, w)
			if err != nil {
				return nil, fmt.Errorf("annotation %d: %w", a.ID, err)
			}
			k++
			instCat = append(instCat, ci)
			for p, v := range m {
				if v != 0 {
					ins[p] = k
				}
			}
		}
		if n.p.Size > 0 {
			grey = resizeGrey(grey, h, w, n.p.Size, n.p.Size)
			ins = resizeNearest(ins, h, w, n.p.Size, n.p.Size)
			h, w = n.p.Size, n.p.Size
		} else if i == 0 {
			seg.H, seg.W = h, w
		} else if h != seg.H || w != seg.W {
			return nil, fmt.Errorf("image %d is %dx%d, the first %dx%d; set size to resize them", im.ID, w, h, seg.W, seg.H)
		}
		// Renumber the surviving instances 1..k in order and rebuild the
		// semantic map from them.
		renum := make([]int32, len(instCat)+1)
		next := int32(0)
		for _, v := range ins {
			if v > 0 && renum[v] == 0 {
				renum[v] = -1
			}
		}
		for id := 1; id < len(renum); id++ {
			if renum[id] == -1 {
				next++
				renum[id] = next
			}
		}
		out := artifact.COCOImage{ID: int64(i + 1), FileName: im.FileName, Width: w, Height: h}
		seg.COCO.Images = append(seg.COCO.Images, out)
		masks := make([][]uint8, next+1)
		cats := make([]int, next+1)
		sem := make([]uint8, h*w)
		for p, v := range ins {
			if v == 0 {
				continue
			}
			nv := renum[v]
			ins[p] = nv
			sem[p] = uint8(instCat[v-1] + 1)
			if masks[nv] == nil {
				masks[nv] = make([]uint8, h*w)
				cats[nv] = instCat[v-1]
			}
			masks[nv][p] = 1
		}
		for id := int32(1); id <= next; id++ {
			rle := artifact.EncodeRLE(masks[id], h, w)
			box, area := artifact.MaskBBox(masks[id], h, w)
			seg.COCO.Annotations = append(seg.COCO.Annotations, artifact.COCOAnnotation{
				ID: int64(len(seg.COCO.Annotations) + 1), ImageID: out.ID, CategoryID: int64(cats[id] + 1),
				Segmentation: artifact.Segmentation{RLE: &rle}, Area: float64(area), BBox: box,
			})
		}
		seg.Images = append(seg.Images, grey...)
		seg.Semantic = append(seg.Semantic, sem...)
		seg.Instances = append(seg.Instances, ins...)
		env.Report(i+1, len(images))
	}
	imgs := imageCounts(seg.Semantic, seg.N, len(names))
	inst := make([]int, len(names))
	for _, a := range seg.COCO.Annotations {
		inst[a.CategoryID-1]++
	}
	groups := map[string]string{}
	for i, k := range cats {
		g := groupOf(imgs[i], n.p.RareMax, n.p.CommonMax)
		switch k.Frequency {
		case "r":
			g = format.Rare
		case "c":
			g = format.Common
		case "f":
			g = format.Frequent
		}
		groups[k.Name] = g
		seg.COCO.Categories = append(seg.COCO.Categories, artifact.COCOCategory{
			ID: int64(i + 1), Name: k.Name, Supercategory: k.Supercategory,
			Frequency: freqLetter(g), ImageCount: imgs[i], InstanceCount: inst[i],
		})
	}
	safe := make([]bool, len(names))
	for c := range safe {
		safe[c] = n.p.MirrorSafe
	}
	seg.Meta = format.SegMeta{Classes: names, Groups: groups, SizeStats: sizeStats(seg.COCO, names), MirrorSafe: safe}
	return seg, nil
}
