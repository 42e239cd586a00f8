package metrics

import (
	"cmp"
	"fmt"
	"slices"
)

// Ways of turning a segmenter's argmax class map into instances (Detect's
// mode; the evaluate kind's and the train kind's `instances` param).
const (
	// InstancesByClass makes every 8-connected set of pixels of one
	// category an instance, scored by the mean probability of that
	// category over its pixels. An object whose pixels are split between
	// categories becomes several fragments.
	InstancesByClass = "class"
	// InstancesByForeground makes every 8-connected set of non-background
	// pixels an instance (lt-seg's instances never touch), labelled with
	// the category of highest mean probability over its pixels (the lowest
	// id among equals) and scored by that mean.
	InstancesByForeground = "foreground"
)

// argmax returns the first index of the largest of c values at stride
// apart starting at off.
func argmax(probs []float32, off, c, stride int) int {
	best := 0
	for k := 1; k < c; k++ {
		if probs[off+k*stride] > probs[off+best*stride] {
			best = k
		}
	}
	return best
}

// Detect turns one image's per-pixel probabilities (channels × pixels, a
// segmenter's K+1 outputs, channel 0 the background) into scored instances
// of the argmax class map, the way mode (InstancesByClass or
// InstancesByForeground) says; components are 8-connected and those under
// minPixels pixels are dropped. It also returns the class map.
func Detect(image int, probs []float32, h, w, minPixels int, mode string) ([]Instance, []int, error) {
	hw := h * w
	if hw == 0 || len(probs)%hw != 0 || len(probs) < 2*hw {
		return nil, nil, fmt.Errorf("detect: %d probabilities do not form at least 2 channels of %dx%d", len(probs), h, w)
	}
	c := len(probs) / hw
	classes := make([]int, hw)
	for p := range classes {
		classes[p] = argmax(probs, p, c, hw)
	}
	opt := ComponentOptions{Width: w, Height: h, Background: 0, Connectivity: Eight, MinPixels: minPixels}
	switch mode {
	case InstancesByClass:
		dets, err := Components(image, classes, probs, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("detect: %w", err)
		}
		return dets, classes, nil
	case InstancesByForeground:
		fg := make([]int, hw)
		for p, k := range classes {
			if k != 0 {
				fg[p] = 1
			}
		}
		dets, err := Components(image, fg, nil, opt)
		if err != nil {
			return nil, nil, fmt.Errorf("detect: %w", err)
		}
		for i := range dets {
			best, bestMean := 0, 0.0
			for k := 1; k < c; k++ {
				var sum float64
				for _, p := range dets[i].Pixels {
					sum += float64(probs[k*hw+int(p)])
				}
				if mean := sum / float64(len(dets[i].Pixels)); best == 0 || mean > bestMean {
					best, bestMean = k, mean
				}
			}
			dets[i].Category, dets[i].Score = best, bestMean
		}
		return dets, classes, nil
	}
	return nil, nil, fmt.Errorf("detect: unknown instances mode %q", mode)
}

// GroundTruth returns the instances of n h×w images given as a semantic
// map (0 background, c+1 for category c) and an instance map (ids 1..k
// per image, 0 none): each instance id of an image is one instance, its
// category the semantic label of its pixels (all equal, not background).
// They come by image, and in an image by instance id: the order of a
// segmentation set's annotations.json, in which the official tools match,
// so that equal IoUs pick the same ground truth (MaskAP keeps its input
// order).
func GroundTruth(semantic []uint8, instances []int32, n, h, w int) ([]Instance, error) {
	hw := h * w
	if len(semantic) != n*hw || len(instances) != n*hw {
		return nil, fmt.Errorf("ground truth: %d semantic and %d instance labels for %d images of %dx%d", len(semantic), len(instances), n, h, w)
	}
	var out []Instance
	for i := 0; i < n; i++ {
		ins := instances[i*hw : (i+1)*hw]
		sem := semantic[i*hw : (i+1)*hw]
		start := len(out)
		var ids []int32
		byID := map[int32]int{} // instance id → index in out
		for p, id := range ins {
			if id == 0 {
				continue
			}
			if id < 0 {
				return nil, fmt.Errorf("image %d pixel %d: negative instance id %d", i, p, id)
			}
			c := int(sem[p])
			j, ok := byID[id]
			if !ok {
				if c == 0 {
					return nil, fmt.Errorf("image %d: instance %d lies on background in the semantic map", i, id)
				}
				j = len(out)
				byID[id] = j
				ids = append(ids, id)
				out = append(out, Instance{Image: i, Category: c})
			}
			if out[j].Category != c {
				return nil, fmt.Errorf("image %d: instance %d has pixels of categories %d and %d in the semantic map", i, id, out[j].Category, c)
			}
			out[j].Pixels = append(out[j].Pixels, int32(p))
		}
		// Found in order of first pixel; put them in id order.
		slices.Sort(ids)
		sorted := make([]Instance, len(ids))
		for k, id := range ids {
			sorted[k] = out[byID[id]]
		}
		copy(out[start:], sorted)
	}
	return out, nil
}

// GroupLetter maps a dataset meta's group name ("rare", "common",
// "frequent", the values of format's Rare, Common, Frequent) to LVIS's
// letter (Rare, Common, Frequent here); ok is false for anything else.
func GroupLetter(group string) (letter string, ok bool) {
	switch group {
	case "rare":
		return Rare, true
	case "common":
		return Common, true
	case "frequent":
		return Frequent, true
	}
	return "", false
}

// SegmentationEval scores a segmenter on a segmentation set the one way
// the evaluate kind and the train kind's validation both do: per image,
// Detect on the model's probabilities; then every detection, by image
// (as added) and by descending score (ties in the order found: the order
// of a COCO results file, whose order the official tools break score ties
// by), against the set's GroundTruth with MaskAP under Protocol.
type SegmentationEval struct {
	H, W int
	// Categories is K: semantic labels 1..K are evaluated.
	Categories int
	// Groups maps a semantic label to its LVIS letter (GroupLetter).
	Groups    map[int]string
	MinPixels int
	Mode      string // InstancesByClass or InstancesByForeground
	Protocol  Protocol

	dets             []Instance
	correct, matched int
}

// Add detects the instances of image (its K+1 channels of probabilities)
// and counts its pixels whose argmax class is their label in semantic
// (the image's h·w semantic labels).
func (e *SegmentationEval) Add(image int, probs []float32, semantic []uint8) error {
	found, classes, err := Detect(image, probs, e.H, e.W, e.MinPixels, e.Mode)
	if err != nil {
		return fmt.Errorf("image %d: %w", image, err)
	}
	if len(semantic) != len(classes) {
		return fmt.Errorf("image %d: %d semantic labels for %d pixels", image, len(semantic), len(classes))
	}
	e.dets = append(e.dets, found...)
	for px, c := range classes {
		if c == int(semantic[px]) {
			e.correct++
		}
	}
	e.matched += len(classes)
	return nil
}

// SegmentationScore is what SegmentationEval.Score returns.
type SegmentationScore struct {
	Result
	// PixelAccuracy is the fraction of the added pixels whose argmax class
	// is their semantic label.
	PixelAccuracy float64
	// Detections are every detection in scoring order (see
	// SegmentationEval).
	Detections []Instance
}

// Score sorts the detections added so far and scores them against gt.
func (e *SegmentationEval) Score(gt []Instance) (SegmentationScore, error) {
	dets := slices.Clone(e.dets)
	slices.SortStableFunc(dets, func(a, b Instance) int {
		return cmp.Or(cmp.Compare(a.Image, b.Image), cmp.Compare(b.Score, a.Score))
	})
	cats := make([]int, e.Categories)
	for c := range cats {
		cats[c] = c + 1
	}
	res, err := e.Protocol.MaskAP(gt, dets, cats, e.Groups)
	if err != nil {
		return SegmentationScore{}, err
	}
	out := SegmentationScore{Result: res, Detections: dets}
	if e.matched > 0 {
		out.PixelAccuracy = float64(e.correct) / float64(e.matched)
	}
	return out, nil
}
