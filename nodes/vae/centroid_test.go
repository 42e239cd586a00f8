package vae

import "dagrun/format"

// centroids are the per-category mean images of a classification set.
func centroids(ref *format.Classification) [][]float64 {
	k := len(ref.Meta.Classes)
	P := ref.H * ref.W
	sum := make([][]float64, k)
	cnt := make([]int, k)
	for i := range sum {
		sum[i] = make([]float64, P)
	}
	for i := range ref.N {
		l := ref.Labels[i]
		cnt[l]++
		for j, v := range ref.Image(i) {
			sum[l][j] += float64(v)
		}
	}
	for l := range sum {
		for j := range sum[l] {
			sum[l][j] /= float64(max(cnt[l], 1))
		}
	}
	return sum
}

// nearest is the category whose centroid is closest (Euclidean) to img.
func nearest(cs [][]float64, img []uint8) int {
	best, bestD := -1, 0.0
	for c, m := range cs {
		var d float64
		for j, v := range img {
			e := float64(v) - m[j]
			d += e * e
		}
		if best < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// centroidRate is the fraction of items that the nearest-centroid
// classifier of ref assigns to their own label.
func centroidRate(ref *format.Classification, images []uint8, labels []int64) float64 {
	cs := centroids(ref)
	P := ref.H * ref.W
	hit := 0
	for i, l := range labels {
		if nearest(cs, images[i*P:(i+1)*P]) == int(l) {
			hit++
		}
	}
	return float64(hit) / float64(len(labels))
}
