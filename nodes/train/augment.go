package train

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"dagrun/lib/learn"
	"dagrun/lib/resample"
)

// AugmentParams is the train kind's `augment:` block: random transforms of
// every real training image, drawn anew each time the image is drawn,
// before anything is pasted into it (as the reference trainer's data
// mapper does), so the pasted copies and the un-pasted batch a rejected
// iteration trains on both start from the augmented images. Everything
// is off by default.
type AugmentParams struct {
	Scale []float64 `yaml:"scale" json:"scale,omitempty" doc:"segmentation: scale jitter [lo, hi], 0 < lo ≤ hi ≤ 4: each real scene is resized by a factor drawn uniformly from [lo, hi] (pixels by area averaging when shrinking, bilinearly when enlarging; labels nearest-neighbour), then cropped back to the scene size at a uniformly drawn offset, or, when smaller, placed at a uniformly drawn offset on a zero (black, background) canvas — the reference's resize-crop; empty: off"`
	Flip  bool      `yaml:"flip" json:"flip" doc:"flip each real image left-right with probability 0.5, but only when every category it shows is mirror-safe (the train set's meta.json mirror_safe: lt-seg's Fashion-MNIST categories yes, its digits no): classification the image's label; segmentation every category left in the scene after scale jitter"`
	Pad   int       `yaml:"pad" json:"pad" doc:"classification: zero-pad each real image by pad pixels on every side and crop it back to its size at a uniformly drawn offset (the usual pad-and-crop; a shift of up to pad pixels each way), before the flip; 0: off"`
}

// maxScale bounds the scale jitter: beyond it a 32-pixel scene would be
// resized to more than 128 pixels to keep a fraction of it.
const maxScale = 4

// Validate checks the block's values.
func (a AugmentParams) Validate() error {
	var errs []error
	if len(a.Scale) != 0 {
		if len(a.Scale) != 2 || !(a.Scale[0] > 0 && a.Scale[0] <= a.Scale[1] && a.Scale[1] <= maxScale) {
			errs = append(errs, fmt.Errorf("augment: scale %v: want [lo, hi] with 0 < lo ≤ hi ≤ %d (empty: off)", a.Scale, maxScale))
		}
	}
	if a.Pad < 0 {
		errs = append(errs, fmt.Errorf("augment: pad %d must not be negative", a.Pad))
	}
	return errors.Join(errs...)
}

// augmenter applies AugmentParams to real batches, from its own PCG
// stream, so that turning augmentation on leaves every other draw of the
// run (batches, pastes, selection) where it was.
type augmenter struct {
	p    AugmentParams
	rng  *rand.Rand
	h, w int
	seg  bool
	safe func(c int) bool
}

// newAugmenter returns the augmenter of ds's images, or nil when the block
// turns nothing on. A transform of the other task is an error.
func newAugmenter(p AugmentParams, ds *learn.Dataset, seed uint64) (*augmenter, error) {
	if ds.Segmentation && p.Pad != 0 {
		return nil, fmt.Errorf("augment: pad is for classification; a segmentation train set takes scale")
	}
	if !ds.Segmentation && len(p.Scale) != 0 {
		return nil, fmt.Errorf("augment: scale is for segmentation; a classification train set takes pad")
	}
	if len(p.Scale) == 0 && !p.Flip && p.Pad == 0 {
		return nil, nil
	}
	return &augmenter{p: p, rng: rand.New(rand.NewPCG(seed, 0x6175676d656e74)), h: ds.H, w: ds.W, seg: ds.Segmentation, safe: ds.Safe}, nil // "augment"
}

// apply augments the images of b in place, in batch order. Per image it
// draws, in this order and whether or not they end up changing it: the
// scale factor and the two offsets (scale on), or the two pad offsets (pad
// on); then the flip coin (flip on).
func (a *augmenter) apply(b *learn.Batch) {
	if a == nil {
		return
	}
	hw := a.h * a.w
	for i := range len(b.X) / hw {
		x := b.X[i*hw : (i+1)*hw]
		if a.seg {
			y := b.Y[i*hw : (i+1)*hw]
			if len(a.p.Scale) == 2 {
				lo, hi := a.p.Scale[0], a.p.Scale[1]
				s := lo + (hi-lo)*a.rng.Float64()
				nh, nw := scaledSide(a.h, s), scaledSide(a.w, s)
				ox, oy := a.rng.IntN(abs(nw-a.w)+1), a.rng.IntN(abs(nh-a.h)+1)
				nx, ny := scaleCrop(x, y, a.h, a.w, nh, nw, ox, oy)
				copy(x, nx)
				copy(y, ny)
			}
			if a.p.Flip && a.rng.Float64() < 0.5 && a.sceneSafe(y) {
				flipRows(x, a.h, a.w)
				flipRows(y, a.h, a.w)
			}
			continue
		}
		if a.p.Pad > 0 {
			dx, dy := a.rng.IntN(2*a.p.Pad+1), a.rng.IntN(2*a.p.Pad+1)
			copy(x, shift(x, a.h, a.w, dx-a.p.Pad, dy-a.p.Pad))
		}
		if a.p.Flip && a.rng.Float64() < 0.5 && a.safe(b.Y[i]) {
			flipRows(x, a.h, a.w)
		}
	}
}

// sceneSafe reports whether every category in the label map y (0
// background, c+1 category c) is mirror-safe.
func (a *augmenter) sceneSafe(y []int) bool {
	for _, v := range y {
		if v > 0 && !a.safe(v-1) {
			return false
		}
	}
	return true
}

// scaledSide is the side n resized by s: round(n·s), at least 1.
func scaledSide(n int, s float64) int { return max(1, int(math.Round(float64(n)*s))) }

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// scaleCrop resizes the h×w image x and label map y to nh×nw (x by area
// averaging when it shrinks, bilinearly with half-pixel centres when it
// grows; y nearest-neighbour: each output pixel takes the label of the
// source pixel under its centre) and returns the h×w window of the result
// at offset (ox, oy) when it is larger, or the result placed at (ox, oy)
// on a zero canvas (pixel 0, label 0) when it is smaller, per axis.
func scaleCrop(x []float32, y []int, h, w, nh, nw, ox, oy int) ([]float32, []int) {
	var rx []float64
	if nh*nw <= h*w {
		src := make([]float64, len(x))
		for i, v := range x {
			src[i] = float64(v)
		}
		rx = resample.Area(src, w, h, nw, nh)
	} else {
		rx = make([]float64, nh*nw)
		sx, sy := float64(w)/float64(nw), float64(h)/float64(nh)
		for r := range nh {
			fy := (float64(r)+0.5)*sy - 0.5
			for c := range nw {
				rx[r*nw+c] = bilinearF(x, h, w, (float64(c)+0.5)*sx-0.5, fy)
			}
		}
	}
	ry := make([]int, nh*nw)
	for r := range nh {
		sr := min(h-1, int((float64(r)+0.5)*float64(h)/float64(nh)))
		for c := range nw {
			sc := min(w-1, int((float64(c)+0.5)*float64(w)/float64(nw)))
			ry[r*nw+c] = y[sr*w+sc]
		}
	}
	outX, outY := make([]float32, h*w), make([]int, h*w)
	// Output pixel (r, c) comes from resized pixel (r+dy, c+dx): crop
	// offsets add, placement offsets subtract.
	dx, dy := ox, oy
	if nw < w {
		dx = -ox
	}
	if nh < h {
		dy = -oy
	}
	for r := range h {
		sr := r + dy
		if sr < 0 || sr >= nh {
			continue
		}
		for c := range w {
			sc := c + dx
			if sc < 0 || sc >= nw {
				continue
			}
			outX[r*w+c] = float32(rx[sr*nw+sc])
			outY[r*w+c] = ry[sr*nw+sc]
		}
	}
	return outX, outY
}

// shift returns the h×w image x moved so that output pixel (r, c) is
// input pixel (r+dy, c+dx), zero outside: the crop at (p+dx, p+dy) of x
// zero-padded by p on every side.
func shift(x []float32, h, w, dx, dy int) []float32 {
	out := make([]float32, h*w)
	for r := range h {
		sr := r + dy
		if sr < 0 || sr >= h {
			continue
		}
		for c := range w {
			if sc := c + dx; sc >= 0 && sc < w {
				out[r*w+c] = x[sr*w+sc]
			}
		}
	}
	return out
}

// flipRows mirrors each row of an h×w plane in place.
func flipRows[T any](v []T, h, w int) {
	for r := range h {
		row := v[r*w : (r+1)*w]
		for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
			row[i], row[j] = row[j], row[i]
		}
	}
}
