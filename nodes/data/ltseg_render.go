package data

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"

	"dagrun/format"
	"dagrun/lib/artifact"
)

// The rendering of lt-seg scenes: cutting an instance out of a source
// image (cut, wholeShape), drawing the scenes of a layout (render) and the
// preview.

// instance is one rendered instance before placement: a w×h patch with a
// mask that is one 8-connected component.
type instance struct {
	cat    int
	source string
	w, h   int
	values []uint8
	mask   []bool
	ox, oy int
	area   int
	srcImg []uint8
	srcH   int
	srcW   int
}

// cut renders a source image at a longer side of side pixels: crop to the
// pixels above threshold·max, resize bilinearly, threshold again, keep the
// largest 8-connected component and crop to it.
func cut(src []uint8, sh, sw, side int, frac float64) (w, h int, values []uint8, mask []bool, err error) {
	mx := uint8(0)
	for _, v := range src {
		mx = max(mx, v)
	}
	if mx == 0 {
		return 0, 0, nil, nil, errors.New("source image is blank")
	}
	t := frac * float64(mx)
	x0, y0, x1, y1 := sw, sh, -1, -1
	for y := 0; y < sh; y++ {
		for x := 0; x < sw; x++ {
			if float64(src[y*sw+x]) > t {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	bw, bh := x1-x0+1, y1-y0+1
	scale := float64(side) / float64(max(bw, bh))
	ow := max(1, int(math.Round(float64(bw)*scale)))
	oh := max(1, int(math.Round(float64(bh)*scale)))
	vals := make([]float64, ow*oh)
	m := make([]bool, ow*oh)
	best := 0
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			sx := float64(x0) + (float64(x)+0.5)/scale - 0.5
			sy := float64(y0) + (float64(y)+0.5)/scale - 0.5
			v := bilinear(src, sh, sw, sx, sy)
			vals[y*ow+x] = v
			m[y*ow+x] = v > t
			if v > vals[best] {
				best = y*ow + x
			}
		}
	}
	if largestComponent(m, oh, ow) == 0 {
		m[best] = true
	}
	// Crop to the component.
	cx0, cy0, cx1, cy1 := ow, oh, -1, -1
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			if m[y*ow+x] {
				cx0, cx1 = min(cx0, x), max(cx1, x)
				cy0, cy1 = min(cy0, y), max(cy1, y)
			}
		}
	}
	w, h = cx1-cx0+1, cy1-cy0+1
	values = make([]uint8, w*h)
	mask = make([]bool, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y+cy0)*ow + x + cx0
			if m[i] {
				mask[y*w+x] = true
				values[y*w+x] = uint8(math.Round(math.Min(vals[i], 255)))
			}
		}
	}
	return w, h, values, mask, nil
}

// minShare is the least fraction of a source image's mask pixels that its
// largest 8-connected component must hold for the image to be pasted.
const minShare = 0.9

// wholeShape reports whether the pixels of src above frac·max are (nearly)
// one 8-connected component.
func wholeShape(src []uint8, h, w int, frac float64) bool {
	mx := uint8(0)
	for _, v := range src {
		mx = max(mx, v)
	}
	if mx == 0 {
		return false
	}
	t := frac * float64(mx)
	m := make([]bool, len(src))
	total := 0
	for i, v := range src {
		if float64(v) > t {
			m[i] = true
			total++
		}
	}
	return float64(largestComponent(m, h, w)) >= minShare*float64(total)
}

// render draws the scenes of layout. Each instance takes a distinct source
// image of its category from split (drawn in a seeded order, skipping those
// that fail wholeShape); used, when not nil, holds the source indices per
// dataset that earlier scenes of this split took: render leaves them out
// and adds the ones it takes. (The training scenes start from an empty
// set, so their draws do not depend on what is rendered after them.)
func (n *ltsegNode) render(ctx context.Context, rng *rand.Rand, layout [][]int, srcs [2]*ltsegSource,
	split func(*ltsegSource) *format.Classification, used *[2]map[int]bool) (*format.Segmentation, error) {
	S := n.p.Size
	// Seeded queue of source images per category.
	byClass := [2][][]int{byClass(split(srcs[0])), byClass(split(srcs[1]))}
	queues := make([][]int, ltsegCategories)
	for c := range queues {
		queues[c] = byClass[c/10][c%10]
		if used != nil {
			queues[c] = slices.DeleteFunc(slices.Clone(queues[c]), func(i int) bool { return (*used)[c/10][i] })
		}
		q := queues[c]
		rng.Shuffle(len(q), func(i, j int) { q[i], q[j] = q[j], q[i] })
	}
	seg := &format.Segmentation{N: len(layout), H: S, W: S,
		Images: make([]uint8, len(layout)*S*S), Semantic: make([]uint8, len(layout)*S*S), Instances: make([]int32, len(layout)*S*S)}
	seg.COCO = &artifact.COCO{Images: []artifact.COCOImage{}, Annotations: []artifact.COCOAnnotation{}}
	var sources []string
	for s, cats := range layout {
		if s%64 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		// Source images for this scene.
		insts := make([]*instance, len(cats))
		for k, c := range cats {
			d := split(srcs[c/10])
			// Skip sources whose mask falls apart: they would paste a
			// fragment. Skipped images stay out of "used" (and so in the
			// reference corpus).
			idx := -1
			for idx < 0 {
				if len(queues[c]) == 0 {
					return nil, fmt.Errorf("category %d has too few source images", c)
				}
				if i := queues[c][0]; wholeShape(d.Image(i), d.H, d.W, n.p.Threshold) {
					idx = i
				}
				queues[c] = queues[c][1:]
			}
			insts[k] = &instance{cat: c, source: srcs[c/10].name + ":" + strconv.Itoa(idx), srcImg: d.Image(idx), srcH: d.H, srcW: d.W}
			if used != nil {
				(*used)[c/10][idx] = true
			}
		}
		if err := n.place(rng, insts); err != nil {
			return nil, fmt.Errorf("scene %d: %w", s, err)
		}
		off := s * S * S
		img, sem, ins := seg.Images[off:off+S*S], seg.Semantic[off:off+S*S], seg.Instances[off:off+S*S]
		base := float64(rng.IntN(41))
		canvas := make([]float64, S*S)
		for i := range canvas {
			canvas[i] = base
		}
		seg.COCO.Images = append(seg.COCO.Images, artifact.COCOImage{ID: int64(s + 1), FileName: "images.npy:" + strconv.Itoa(s), Width: S, Height: S})
		for k, in := range insts {
			mask := make([]uint8, S*S)
			for y := 0; y < in.h; y++ {
				for x := 0; x < in.w; x++ {
					if in.mask[y*in.w+x] {
						p := (in.oy+y)*S + in.ox + x
						canvas[p] = float64(in.values[y*in.w+x])
						sem[p] = uint8(in.cat + 1)
						ins[p] = int32(k + 1)
						mask[p] = 1
					}
				}
			}
			rle := artifact.EncodeRLE(mask, S, S)
			box, area := artifact.MaskBBox(mask, S, S)
			seg.COCO.Annotations = append(seg.COCO.Annotations, artifact.COCOAnnotation{
				ID: int64(len(seg.COCO.Annotations) + 1), ImageID: int64(s + 1), CategoryID: int64(in.cat + 1),
				Segmentation: artifact.Segmentation{RLE: &rle}, Area: float64(area), BBox: box,
			})
			sources = append(sources, in.source)
		}
		for i, v := range canvas {
			if n.p.Noise > 0 {
				v += float64(n.p.Noise * rng.NormFloat64()) // no FMA: same bytes on every platform
			}
			img[i] = uint8(math.Round(math.Max(0, math.Min(255, v))))
		}
	}
	seg.Meta.InstanceSources = sources
	return seg, nil
}

// with their instance masks in category colours.
func writePreview(path string, k int, train, test *format.Segmentation) error {
	if k == 0 {
		k = 1
	}
	var tiles []image.Image
	add := func(s *format.Segmentation, m int) {
		per := s.H * s.W
		for i := 0; i < min(m, s.N); i++ {
			class := make([]int32, per)
			for j, v := range s.Semantic[i*per : (i+1)*per] {
				class[j] = int32(v)
			}
			tiles = append(tiles, artifact.Overlay(s.Images[i*per:(i+1)*per], s.H, s.W, class, s.Instances[i*per:(i+1)*per]))
		}
	}
	add(train, k-k/2)
	add(test, k/2)
	scale := max(1, 128/train.H)
	if err := artifact.SaveGridPNG(path, tiles, 4, 2, scale); err != nil {
		return fmt.Errorf("write preview: %w", err)
	}
	return nil
}
