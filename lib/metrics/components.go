package metrics

import (
	"fmt"
	"slices"
)

// Instance is one instance mask: ground truth or a scored detection.
type Instance struct {
	// Image identifies the image (scene) the mask belongs to.
	Image int `json:"image"`
	// Category is the instance's category id.
	Category int `json:"category"`
	// Pixels are the mask's row-major pixel indices (y·width + x), strictly
	// increasing.
	Pixels []int32 `json:"pixels"`
	// Score is the detection confidence; ignored for ground truth.
	Score float64 `json:"score"`
}

// Connectivity says which neighbours join pixels into one component.
type Connectivity int

const (
	// Four joins a pixel to its left, right, upper and lower neighbours.
	Four Connectivity = 4
	// Eight also joins diagonal neighbours.
	Eight Connectivity = 8
)

// ComponentOptions configures Components.
type ComponentOptions struct {
	// Width and Height are the map's size; the map is row-major.
	Width, Height int
	// Background is the class that forms no instance (negative classes never
	// do either).
	Background int
	// Connectivity is Four or Eight; the zero value means Four, which keeps
	// two instances that touch only at a corner apart.
	Connectivity Connectivity
	// MinPixels drops components with fewer pixels (speckle); 0 keeps all.
	MinPixels int
}

// Components splits a per-pixel class map (e.g. the argmax of a semantic
// FCN) into instances: each connected set of pixels of one non-background
// class is one instance of that category. Its score is the mean probability
// of its class over its pixels, read from probs laid out as channels × pixels
// (probs[c·W·H + p], the order of one NCHW output); nil probs give score 1.
// Instances come out in raster order of their first pixel.
func Components(image int, classes []int, probs []float32, opt ComponentOptions) ([]Instance, error) {
	w, h := opt.Width, opt.Height
	if w <= 0 || h <= 0 {
		return nil, fmt.Errorf("connected components: bad size %d×%d", w, h)
	}
	n := w * h
	if len(classes) != n {
		return nil, fmt.Errorf("connected components: class map has %d pixels, want %d×%d = %d", len(classes), w, h, n)
	}
	conn := opt.Connectivity
	if conn == 0 {
		conn = Four
	}
	if conn != Four && conn != Eight {
		return nil, fmt.Errorf("connected components: connectivity %d, want 4 or 8", conn)
	}
	channels := 0
	if probs != nil {
		if len(probs)%n != 0 {
			return nil, fmt.Errorf("connected components: %d probabilities are not a whole number of %d-pixel channels", len(probs), n)
		}
		channels = len(probs) / n
	}
	seen := make([]bool, n)
	var out []Instance
	var stack []int32
	for start := 0; start < n; start++ {
		c := classes[start]
		if seen[start] || c < 0 || c == opt.Background {
			continue
		}
		if probs != nil && c >= channels {
			return nil, fmt.Errorf("connected components: pixel %d has class %d but probabilities have %d channels", start, c, channels)
		}
		seen[start] = true
		stack = append(stack[:0], int32(start))
		var pix []int32
		for len(stack) > 0 {
			p := int(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			pix = append(pix, int32(p))
			x, y := p%w, p/w
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if (dx == 0 && dy == 0) || (conn == Four && dx != 0 && dy != 0) {
						continue
					}
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= w || ny >= h {
						continue
					}
					q := ny*w + nx
					if !seen[q] && classes[q] == c {
						seen[q] = true
						stack = append(stack, int32(q))
					}
				}
			}
		}
		if len(pix) < opt.MinPixels {
			continue
		}
		slices.Sort(pix)
		score := 1.0
		if probs != nil {
			var sum float64
			base := c * n
			for _, p := range pix {
				sum += float64(probs[base+int(p)])
			}
			score = sum / float64(len(pix))
		}
		out = append(out, Instance{Image: image, Category: c, Pixels: pix, Score: score})
	}
	return out, nil
}

// PixelsOf returns the indices of the true entries of a dense mask, the form
// Instance.Pixels takes.
func PixelsOf(mask []bool) []int32 {
	var pix []int32
	for i, on := range mask {
		if on {
			pix = append(pix, int32(i))
		}
	}
	return pix
}
