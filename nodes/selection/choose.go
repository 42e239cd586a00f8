package selection

// Drop reasons, as counted in metrics.json and meta.json.
const (
	ReasonScore = "score"
	ReasonArea  = "area"
)

// Decision is what happened to one pool item.
type Decision struct {
	// Best is the index of the annotator whose composite scored highest
	// (the first on ties).
	Best  int
	Score float64
	// Area is the best mask's foreground fraction.
	Area float64
	// Reason is "" for a kept item, else ReasonScore or ReasonArea (the
	// score is checked first).
	Reason string
}

// Kept reports whether the item is kept.
func (d Decision) Kept() bool { return d.Reason == "" }

// Choose decides every item: scores[a][i] and areas[a][i] are annotator a's
// composite score and mask area fraction for item i. An item is kept when
// its best score is at least threshold and that mask's area lies in
// [minArea, maxArea].
func Choose(scores, areas [][]float64, threshold, minArea, maxArea float64) []Decision {
	if len(scores) == 0 {
		return nil
	}
	out := make([]Decision, len(scores[0]))
	for i := range out {
		d := Decision{Best: 0, Score: scores[0][i]}
		for a := 1; a < len(scores); a++ {
			if scores[a][i] > d.Score {
				d.Best, d.Score = a, scores[a][i]
			}
		}
		d.Area = areas[d.Best][i]
		switch {
		case !(d.Score >= threshold):
			d.Reason = ReasonScore
		case d.Area < minArea || d.Area > maxArea:
			d.Reason = ReasonArea
		}
		out[i] = d
	}
	return out
}

// Composite is image·mask on black: the pixels under the mask keep their
// value, the rest are 0.
func Composite(img, mask []uint8) []uint8 {
	out := make([]uint8, len(img))
	for i, v := range img {
		if mask[i] != 0 {
			out[i] = v
		}
	}
	return out
}

// AreaFraction is the share of mask pixels that are set.
func AreaFraction(mask []uint8) float64 {
	n := 0
	for _, v := range mask {
		if v != 0 {
			n++
		}
	}
	return float64(n) / float64(len(mask))
}
