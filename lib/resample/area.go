package resample

import "math"

// Area scales a sw×sh image to dw×dh by area averaging: each output
// pixel is the mean of the source area it covers, weighted by overlap. It
// is separable (rows, then columns) and plain float64, so it is exact up to
// rounding and deterministic.
func Area(src []float64, sw, sh, dw, dh int) []float64 {
	tmp := make([]float64, dw*sh)
	for y := range sh {
		resample1(tmp[y*dw:(y+1)*dw], 1, src[y*sw:(y+1)*sw], 1, sw, dw)
	}
	out := make([]float64, dw*dh)
	for x := range dw {
		resample1(out[x:], dw, tmp[x:], dw, sh, dh)
	}
	return out
}

// resample1 area-resamples n values (stride ss) into m values (stride ds).
func resample1(dst []float64, ds int, src []float64, ss, n, m int) {
	scale := float64(n) / float64(m)
	for j := range m {
		lo, hi := float64(j)*scale, float64(j+1)*scale
		var sum float64
		for i := int(lo); i < n && float64(i) < hi; i++ {
			w := math.Min(hi, float64(i+1)) - math.Max(lo, float64(i))
			if w > 0 {
				sum += float64(w * src[i*ss])
			}
		}
		dst[j*ds] = sum / scale
	}
}

// FitCentered scales a w×h image so its longer side becomes side (keeping
// the aspect ratio; the shorter side is at least 1) and pastes it centred on
// a zero size×size canvas. side is clamped to size.
func FitCentered(src []float64, w, h, side, size int) []float64 {
	side = max(1, min(side, size))
	dw, dh := side, side
	if w > h {
		dh = max(1, int(math.Round(float64(h)*float64(side)/float64(w))))
	} else if h > w {
		dw = max(1, int(math.Round(float64(w)*float64(side)/float64(h))))
	}
	r := Area(src, w, h, dw, dh)
	out := make([]float64, size*size)
	ox, oy := (size-dw)/2, (size-dh)/2
	for y := range dh {
		copy(out[(oy+y)*size+ox:], r[y*dw:(y+1)*dw])
	}
	return out
}

// ToByte rounds a value on the 0–255 scale to the nearest byte (halves away
// from zero), clamping to [0, 255].
func ToByte(v float64) uint8 {
	switch {
	case !(v > 0): // also NaN
		return 0
	case v >= 255:
		return 255
	}
	return uint8(math.Round(v))
}
