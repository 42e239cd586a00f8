package data

import "math"

// bilinear samples a row-major h×w grey image at (x, y) in pixel-centre
// coordinates (pixel (i, j) has its centre at (i, j)), clamping at the
// border.
func bilinear(src []uint8, h, w int, x, y float64) float64 {
	x = math.Max(0, math.Min(x, float64(w-1)))
	y = math.Max(0, math.Min(y, float64(h-1)))
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, w-1), min(y0+1, h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	// The explicit conversions round each product, so that no platform
	// fuses them into FMAs and outputs stay bit-identical everywhere.
	a := float64(float64(src[y0*w+x0])*(1-fx)) + float64(float64(src[y0*w+x1])*fx)
	b := float64(float64(src[y1*w+x0])*(1-fx)) + float64(float64(src[y1*w+x1])*fx)
	return float64(a*(1-fy)) + float64(b*fy)
}

// resizeGrey resamples a row-major h×w image to oh×ow bilinearly.
func resizeGrey(src []uint8, h, w, oh, ow int) []uint8 {
	out := make([]uint8, oh*ow)
	sy, sx := float64(h)/float64(oh), float64(w)/float64(ow)
	for y := 0; y < oh; y++ {
		for x := 0; x < ow; x++ {
			v := bilinear(src, h, w, float64((float64(x)+0.5)*sx)-0.5, float64((float64(y)+0.5)*sy)-0.5)
			out[y*ow+x] = uint8(math.Round(v))
		}
	}
	return out
}

// resizeNearest resamples a row-major h×w label map to oh×ow, taking each
// output pixel's value from the input pixel under its centre.
func resizeNearest[T any](src []T, h, w, oh, ow int) []T {
	out := make([]T, oh*ow)
	for y := 0; y < oh; y++ {
		sy := min(int((float64(y)+0.5)*float64(h)/float64(oh)), h-1)
		for x := 0; x < ow; x++ {
			sx := min(int((float64(x)+0.5)*float64(w)/float64(ow)), w-1)
			out[y*ow+x] = src[sy*w+sx]
		}
	}
	return out
}

// largestComponent keeps only the largest 8-connected component of a
// row-major h×w mask (the first in scan order on ties) and returns its size.
func largestComponent(mask []bool, h, w int) int {
	label := make([]int32, h*w)
	var stack []int
	best, bestID, id := 0, int32(0), int32(0)
	for start := range mask {
		if !mask[start] || label[start] != 0 {
			continue
		}
		id++
		label[start] = id
		stack = append(stack[:0], start)
		n := 0
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			py, px := p/w, p%w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					y, x := py+dy, px+dx
					if y < 0 || y >= h || x < 0 || x >= w {
						continue
					}
					q := y*w + x
					if mask[q] && label[q] == 0 {
						label[q] = id
						stack = append(stack, q)
					}
				}
			}
		}
		if n > best {
			best, bestID = n, id
		}
	}
	for i := range mask {
		mask[i] = mask[i] && label[i] == bestID
	}
	return best
}
