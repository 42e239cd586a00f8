package data

import "dagrun/format"

// subset returns the images of c at idx (in that order), with the same
// classes and mirror-safety and the indices recorded as source indices.
func subset(c *format.Classification, idx []int) *format.Classification {
	s := c.H * c.W
	out := &format.Classification{N: len(idx), H: c.H, W: c.W, Images: make([]uint8, len(idx)*s), Labels: make([]int64, len(idx))}
	for j, i := range idx {
		copy(out.Images[j*s:], c.Image(i))
		out.Labels[j] = c.Labels[i]
	}
	out.Meta = format.ClassMeta{Classes: c.Meta.Classes, SourceIndices: append([]int(nil), idx...), MirrorSafe: c.Meta.MirrorSafe}
	return out
}

// byClass lists the image indices of c per label, ascending.
func byClass(c *format.Classification) [][]int {
	out := make([][]int, len(c.Meta.Classes))
	for i, l := range c.Labels {
		out[l] = append(out[l], i)
	}
	return out
}

// groupOf classifies an image count with the rare and common maxima.
func groupOf(n, rareMax, commonMax int) string {
	switch {
	case n <= rareMax:
		return format.Rare
	case n <= commonMax:
		return format.Common
	}
	return format.Frequent
}

// freqLetter is LVIS's letter for a group.
func freqLetter(g string) string { return g[:1] }
