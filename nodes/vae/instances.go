package vae

import (
	"fmt"
	"math"
	"slices"

	"dagrun/format"
	"dagrun/lib/resample"
)

// objectSides returns, per category, the mean longer bounding-box side of
// the images of c, the box spanning the pixels at least half as bright as
// the image's brightest (the rule lt-seg masks with). Categories without
// images get 0.
func objectSides(c *format.Classification, classes int) []float64 {
	sum := make([]float64, classes)
	cnt := make([]int, classes)
	for i := range c.N {
		x0, y0, x1, y1, ok := brightBox(c.Image(i), c.W, c.H)
		if !ok {
			continue
		}
		l := c.Labels[i]
		sum[l] += float64(max(x1-x0, y1-y0) + 1)
		cnt[l]++
	}
	for k := range sum {
		if cnt[k] > 0 {
			sum[k] /= float64(cnt[k])
		}
	}
	return sum
}

// brightBox is the inclusive bounding box of the pixels of img that are at
// least half its maximum; ok is false for an all-black image.
func brightBox(img []uint8, w, h int) (x0, y0, x1, y1 int, ok bool) {
	mx := slices.Max(img)
	if mx == 0 {
		return 0, 0, 0, 0, false
	}
	x0, y0, x1, y1 = w, h, -1, -1
	for y := range h {
		for x := range w {
			if 2*int(img[y*w+x]) >= int(mx) {
				x0, y0, x1, y1 = min(x0, x), min(y0, y), max(x1, x), max(y1, y)
			}
		}
	}
	return x0, y0, x1, y1, true
}

// cropInstances cuts every instance out of a segmentation dataset: the
// bounding box of its mask in the scene, other instances' pixels set to 0,
// scaled (keeping the aspect ratio) so its longer side is sides[category]
// (rounded; size when that is 0) and centred on a size×size canvas, as
// bytes. Labels are categories. Order: scene, then instance id.
func cropInstances(s *format.Segmentation, sides []float64, size int) ([]uint8, []int, error) {
	var xs []uint8
	var labels []int
	hw := s.H * s.W
	for i := range s.N {
		ins := s.Instances[i*hw : (i+1)*hw]
		sem := s.Semantic[i*hw : (i+1)*hw]
		img := s.Images[i*hw : (i+1)*hw]
		type box struct{ x0, y0, x1, y1, cat int }
		boxes := map[int32]*box{}
		var ids []int32
		for p, id := range ins {
			if id <= 0 {
				continue
			}
			x, y := p%s.W, p/s.W
			b := boxes[id]
			if b == nil {
				if sem[p] == 0 || int(sem[p]) > len(sides) {
					return nil, nil, fmt.Errorf("scene %d: instance %d has semantic label %d, want 1..%d", i, id, sem[p], len(sides))
				}
				b = &box{x, y, x, y, int(sem[p]) - 1}
				boxes[id] = b
				ids = append(ids, id)
			}
			b.x0, b.y0, b.x1, b.y1 = min(b.x0, x), min(b.y0, y), max(b.x1, x), max(b.y1, y)
		}
		slices.Sort(ids)
		for _, id := range ids {
			b := boxes[id]
			w, h := b.x1-b.x0+1, b.y1-b.y0+1
			crop := make([]float64, w*h)
			for y := range h {
				for x := range w {
					p := (b.y0+y)*s.W + b.x0 + x
					if ins[p] == 0 || ins[p] == id {
						crop[y*w+x] = float64(img[p])
					}
				}
			}
			side := size
			if sides[b.cat] > 0 {
				side = int(math.Round(sides[b.cat]))
			}
			for _, v := range resample.FitCentered(crop, w, h, side, size) {
				xs = append(xs, resample.ToByte(v))
			}
			labels = append(labels, b.cat)
		}
	}
	return xs, labels, nil
}
