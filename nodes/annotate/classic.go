package annotate

import (
	"math/rand/v2"
)

// ThresholdMask marks the pixels brighter than level: mask[i] = img[i] > level.
func ThresholdMask(img []uint8, level int) []uint8 {
	m := make([]uint8, len(img))
	for i, v := range img {
		if int(v) > level {
			m[i] = 1
		}
	}
	return m
}

// OtsuLevel returns Otsu's threshold t of img: the t in [0, 254] that
// maximises the between-class variance of {v ≤ t} and {v > t}, the lowest
// such t on ties. ok is false when every t gives zero variance (a
// one-intensity image): there is nothing to separate.
func OtsuLevel(img []uint8) (t int, ok bool) {
	var hist [256]float64
	for _, v := range img {
		hist[v]++
	}
	var n, sum float64
	for v, c := range hist {
		n += c
		sum += float64(v) * c
	}
	var n0, s0, best float64
	for level := 0; level < 255; level++ {
		n0 += hist[level]
		s0 += float64(level) * hist[level]
		n1, s1 := n-n0, sum-s0
		if n0 == 0 || n1 == 0 {
			continue
		}
		// w0·w1·(μ0−μ1)² up to the constant factor 1/n²:
		// n0·n1·(s0/n0 − s1/n1)² = (s0·n1 − s1·n0)² / (n0·n1).
		d := s0*n1 - s1*n0
		v := d * d / (n0 * n1)
		if v > best {
			best, t = v, level
		}
	}
	return t, best > 0
}

// OtsuMask thresholds img at its Otsu level; a one-intensity image gives an
// empty mask.
func OtsuMask(img []uint8) []uint8 {
	t, ok := OtsuLevel(img)
	if !ok {
		return make([]uint8, len(img))
	}
	return ThresholdMask(img, t)
}

// Foreground rules of the kmeans annotator.
const (
	// Brighter takes the cluster with the brighter centre (objects are light
	// on a dark background, as in MNIST and Fashion-MNIST).
	Brighter = "brighter"
	// Interior takes the cluster with the smaller share of the image's
	// border pixels (the object does not touch the border); a tie falls
	// back to Brighter.
	Interior = "interior"
)

// KMeans2 clusters img's intensities into two groups with Lloyd's algorithm
// from a k-means++ start drawn from rng (first centre a uniformly drawn
// pixel, second one drawn with probability ∝ squared distance). It returns
// the pixel assignment (1 for the cluster of centre c[1]) and the centres,
// c[0] ≤ c[1]. ok is false for a one-intensity image.
func KMeans2(img []uint8, rng *rand.Rand) (assign []uint8, c [2]float64, ok bool) {
	var hist [256]float64
	for _, v := range img {
		hist[v]++
	}
	c[0] = float64(img[rng.IntN(len(img))])
	var total float64
	for v, n := range hist {
		d := float64(v) - c[0]
		total += n * d * d
	}
	if total == 0 {
		return make([]uint8, len(img)), c, false
	}
	// Draw the second centre: walk the histogram until the cumulative
	// weight passes u.
	u := rng.Float64() * total
	c[1] = c[0]
	for v, n := range hist {
		d := float64(v) - c[0]
		u -= n * d * d
		if n > 0 && d != 0 && u < 0 {
			c[1] = float64(v)
			break
		}
	}
	if c[1] == c[0] { // rounding left u ≥ 0: take the farthest level
		for v, n := range hist {
			if n > 0 && abs(float64(v)-c[0]) > abs(c[1]-c[0]) {
				c[1] = float64(v)
			}
		}
	}
	if c[1] < c[0] {
		c[0], c[1] = c[1], c[0]
	}
	// Lloyd on the histogram. With c0 < c1 a level goes to cluster 1 iff it
	// is strictly nearer c1, that is above the midpoint.
	var side [256]uint8
	for it := 0; it < 256; it++ {
		changed := false
		var n, s [2]float64
		mid := (c[0] + c[1]) / 2
		for v, h := range hist {
			k := uint8(0)
			if float64(v) > mid {
				k = 1
			}
			if side[v] != k {
				side[v], changed = k, true
			}
			n[k] += h
			s[k] += h * float64(v)
		}
		for k := range 2 {
			if n[k] > 0 {
				c[k] = s[k] / n[k]
			}
		}
		if !changed && it > 0 {
			break
		}
	}
	assign = make([]uint8, len(img))
	for i, v := range img {
		assign[i] = side[v]
	}
	return assign, c, true
}

// KMeansMask is KMeans2 with the foreground cluster picked by rule
// (Brighter or Interior) on an h×w image.
func KMeansMask(img []uint8, h, w int, rule string, rng *rand.Rand) []uint8 {
	assign, _, ok := KMeans2(img, rng)
	if !ok {
		return assign
	}
	if rule == Interior {
		var border, bright float64
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				if y == 0 || x == 0 || y == h-1 || x == w-1 {
					border++
					bright += float64(assign[y*w+x])
				}
			}
		}
		// The bright cluster holds bright/border of the border; the dark
		// one the rest. Flip when the bright cluster touches more of it.
		if bright/border > 0.5 {
			for i := range assign {
				assign[i] ^= 1
			}
		}
	}
	return assign
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
