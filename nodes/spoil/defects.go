package spoil

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// assign gives each of n items its truth: counts[k] items get types[k],
// the rest format.TruthClean ("" here, set by the caller). eligible, when
// not nil, limits which items may be spoiled. The items are the first of a
// seeded permutation, so the choice is deterministic in seed.
func assign(n int, types []string, rates []float64, eligible func(i int) bool, rng *rand.Rand) ([]string, error) {
	out := make([]string, n)
	var pool []int
	for _, i := range rng.Perm(n) {
		if eligible == nil || eligible(i) {
			pool = append(pool, i)
		}
	}
	want := 0
	for k := range types {
		want += count(rates[k], n)
	}
	if want > len(pool) {
		return nil, fmt.Errorf("the rates ask for %d spoiled items, but only %d of the %d items can be spoiled", want, len(pool), n)
	}
	next := 0
	for k, t := range types {
		for range count(rates[k], n) {
			out[pool[next]] = t
			next++
		}
	}
	return out, nil
}

// count is the number of n items a rate spoils: round(rate·n).
func count(rate float64, n int) int { return int(math.Round(rate * float64(n))) }

// addNoise adds Gaussian noise of std sigma to every pixel, rounded and
// clipped to [0, 255].
func addNoise(px []uint8, sigma float64, rng *rand.Rand) {
	for i, v := range px {
		x := math.Round(float64(v) + sigma*rng.NormFloat64())
		px[i] = uint8(math.Max(0, math.Min(255, x)))
	}
}

// maskPixels lists the positions where mask is 1, in raster order.
func maskPixels(mask []uint8) []int {
	var out []int
	for i, v := range mask {
		if v != 0 {
			out = append(out, i)
		}
	}
	return out
}

// fewPixels keeps between 1 and 4 pixels of a non-empty mask: a seeded
// pixel of it and the mask pixels that follow it in raster order. An
// annotator that found nothing returns such a speck (an entirely empty
// mask would be skipped by train, so it could not be measured).
func fewPixels(mask []uint8, rng *rand.Rand) {
	px := maskPixels(mask)
	start := rng.IntN(len(px))
	keep := 1 + rng.IntN(4)
	clear(mask)
	for _, p := range px[start:min(len(px), start+keep)] {
		mask[p] = 1
	}
}

// fragment keeps the part of a mask (of at least 2 pixels) on one side of
// a cut through its middle: a seeded axis and direction, the cut at the
// median coordinate, so about half of the object remains. The result is a
// strict, non-empty subset of the mask.
func fragment(mask []uint8, w int, rng *rand.Rand) {
	px := maskPixels(mask)
	axis, dir := rng.IntN(2), rng.IntN(2)
	coord := func(p int) int {
		if axis == 0 {
			return p % w
		}
		return p / w
	}
	cs := make([]int, len(px))
	lo, hi := math.MaxInt, math.MinInt
	for k, p := range px {
		c := coord(p)
		if dir == 1 {
			c = -c
		}
		cs[k] = c
		lo, hi = min(lo, c), max(hi, c)
	}
	if lo == hi {
		// A line along the cut: keep its first half instead.
		for _, p := range px[(len(px)+1)/2:] {
			mask[p] = 0
		}
		return
	}
	// Keep coordinates ≤ cut, with lo ≤ cut < hi: non-empty and strict.
	cut := lo + (hi-lo)/2
	for k, p := range px {
		if cs[k] > cut {
			mask[p] = 0
		}
	}
}

// pair fills dst (image and mask, h×w) with two objects side by side: a
// and b (images with masks), each halved (2×2 blocks, in the object when any pixel is) into one half
// of the frame, vertically centred, over a background of the mean of a's
// pixels outside its mask.
func pair(dstImg, dstMask, aImg, aMask, bImg, bMask []uint8, h, w int) {
	var sum, n int
	for i, m := range aMask {
		if m == 0 {
			sum += int(aImg[i])
			n++
		}
	}
	bg := uint8(0)
	if n > 0 {
		bg = uint8((sum + n/2) / n)
	}
	for i := range dstImg {
		dstImg[i], dstMask[i] = bg, 0
	}
	hw, hh := w/2, h/2
	oy := (h - hh) / 2
	for half, src := range [2][2][]uint8{{aImg, aMask}, {bImg, bMask}} {
		for y := 0; y < hh; y++ {
			for x := 0; x < hw; x++ {
				// A 2×2 block is in the object when any of its pixels is,
				// and shows the first of those: no object vanishes.
				for _, s := range [4]int{2*y*w + 2*x, 2*y*w + 2*x + 1, (2*y+1)*w + 2*x, (2*y+1)*w + 2*x + 1} {
					if src[1][s] != 0 {
						d := (y+oy)*w + x + half*hw
						dstImg[d], dstMask[d] = src[0][s], 1
						break
					}
				}
			}
		}
	}
}
