package metrics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// MaxDetsPerImage is COCO's default maxDets: only the highest-scoring 100
// detections per image and category take part.
const MaxDetsPerImage = 100

// NumIoU and NumRecall are the sizes of COCO's threshold grids.
const (
	NumIoU    = 10
	NumRecall = 101
)

// IoUThresholds returns COCO's IoU grid 0.50:0.05:0.95 and RecallThresholds
// its recall grid 0:0.01:1, both computed as numpy.linspace computes them
// (i·step + start, the last entry set to stop) so that comparisons on a grid
// boundary agree with pycocotools.
func IoUThresholds() []float64 { return linspace(0.5, 0.95, NumIoU) }

// RecallThresholds returns the 101 recall levels 0, 0.01, …, 1; see
// IoUThresholds.
func RecallThresholds() []float64 { return linspace(0, 1, NumRecall) }

func linspace(start, stop float64, num int) []float64 {
	out := make([]float64, num)
	step := (stop - start) / float64(num-1) // float64 operands: rounded like numpy
	for i := range out {
		out[i] = float64(i)*step + start
	}
	out[num-1] = stop
	return out
}

// Result is the outcome of MaskAP. Averages over no categories are -1, as in
// COCO and LVIS.
type Result struct {
	// AP is mask AP averaged over IoU 0.50:0.95 and the evaluated categories.
	AP float64 `json:"ap"`
	// AP50 and AP75 are AP at IoU 0.50 and 0.75.
	AP50 float64 `json:"ap50"`
	AP75 float64 `json:"ap75"`
	// APr, APc and APf average AP over the categories of group Rare, Common
	// and Frequent.
	APr float64 `json:"apr"`
	APc float64 `json:"apc"`
	APf float64 `json:"apf"`
	// PerCategory is AP over 0.50:0.95 per evaluated category (those with
	// ground truth); PerCategory50 the same at IoU 0.50.
	PerCategory   map[int]float64 `json:"per_category"`
	PerCategory50 map[int]float64 `json:"per_category50"`
	// Groups is the mean AP of every group with an evaluated category.
	Groups map[string]float64 `json:"groups"`
}

type imgCat struct{ img, cat int }

// detection is one scored detection after matching in its image.
type detection struct {
	score float64
	img   int
	idx   int // input index, the last tie-break
	tp    [NumIoU]bool
}

// MaskAP scores detections against ground truth COCO-style. categories lists
// the category ids to evaluate (nil: every category in gt or dets); instances
// of other categories are ignored. groups maps a category to its group (Rare,
// Common, Frequent or any other name); a category without a group counts
// only in AP. A category without ground truth is left out of every average; a
// category with ground truth but no detections has AP 0.
func MaskAP(gt, dets []Instance, categories []int, groups map[int]string) (Result, error) {
	for i, g := range gt {
		if err := checkPixels(g.Pixels); err != nil {
			return Result{}, fmt.Errorf("mask ap: ground truth %d (image %d, category %d): %w", i, g.Image, g.Category, err)
		}
	}
	for i, d := range dets {
		if err := checkPixels(d.Pixels); err != nil {
			return Result{}, fmt.Errorf("mask ap: detection %d (image %d, category %d): %w", i, d.Image, d.Category, err)
		}
		if math.IsNaN(d.Score) {
			return Result{}, fmt.Errorf("mask ap: detection %d (image %d, category %d): score is NaN", i, d.Image, d.Category)
		}
	}
	if categories == nil {
		for _, s := range [][]Instance{gt, dets} {
			for _, x := range s {
				categories = append(categories, x.Category)
			}
		}
	} else {
		categories = slices.Clone(categories)
	}
	slices.Sort(categories)
	categories = slices.Compact(categories)

	gtBy := map[imgCat][]int{}
	detBy := map[imgCat][]int{}
	imagesOf := map[int][]int{}
	for i, g := range gt {
		k := imgCat{g.Image, g.Category}
		gtBy[k] = append(gtBy[k], i)
		imagesOf[g.Category] = append(imagesOf[g.Category], g.Image)
	}
	for i, d := range dets {
		k := imgCat{d.Image, d.Category}
		detBy[k] = append(detBy[k], i)
		imagesOf[d.Category] = append(imagesOf[d.Category], d.Image)
	}

	res := Result{
		PerCategory:   map[int]float64{},
		PerCategory50: map[int]float64{},
		Groups:        map[string]float64{},
	}
	ious, recalls := IoUThresholds(), RecallThresholds()
	var sum, sum50, sum75 float64
	groupSum, groupN := map[string]float64{}, map[string]int{}
	for _, c := range categories {
		imgs := imagesOf[c]
		slices.Sort(imgs)
		imgs = slices.Compact(imgs)
		nGT := 0
		var all []detection
		for _, img := range imgs {
			k := imgCat{img, c}
			nGT += len(gtBy[k])
			all = append(all, matchImage(gt, dets, gtBy[k], detBy[k], ious)...)
		}
		if nGT == 0 {
			continue
		}
		slices.SortStableFunc(all, func(a, b detection) int {
			return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.img, b.img), cmp.Compare(a.idx, b.idx))
		})
		var perT [NumIoU]float64
		var mean float64
		for t := range perT {
			perT[t] = interpolatedAP(all, t, nGT, recalls)
			mean += perT[t]
		}
		mean /= NumIoU
		res.PerCategory[c] = mean
		res.PerCategory50[c] = perT[0]
		sum += mean
		sum50 += perT[0]
		sum75 += perT[5]
		if g, ok := groups[c]; ok {
			groupSum[g] += mean
			groupN[g]++
		}
	}
	n := float64(len(res.PerCategory))
	res.AP, res.AP50, res.AP75 = -1, -1, -1
	if n > 0 {
		res.AP, res.AP50, res.AP75 = sum/n, sum50/n, sum75/n
	}
	for g, k := range groupN {
		res.Groups[g] = groupSum[g] / float64(k)
	}
	res.APr, res.APc, res.APf = groupOr(res.Groups, Rare), groupOr(res.Groups, Common), groupOr(res.Groups, Frequent)
	return res, nil
}

func groupOr(m map[string]float64, g string) float64 {
	if v, ok := m[g]; ok {
		return v
	}
	return -1
}

// matchImage matches one image's detections of one category to its ground
// truth at every IoU threshold. Detections are taken in descending score
// order (ties by input order), at most MaxDetsPerImage of them; each takes
// the unmatched ground truth with the highest IoU >= the threshold (the first
// such among equal IoUs).
func matchImage(gt, dets []Instance, gi, di []int, ious []float64) []detection {
	if len(di) == 0 {
		return nil
	}
	di = slices.Clone(di)
	slices.SortStableFunc(di, func(a, b int) int { return cmp.Compare(dets[b].Score, dets[a].Score) })
	if len(di) > MaxDetsPerImage {
		di = di[:MaxDetsPerImage]
	}
	iou := make([]float64, len(di)*len(gi))
	for d, i := range di {
		for g, j := range gi {
			iou[d*len(gi)+g] = IoU(dets[i].Pixels, gt[j].Pixels)
		}
	}
	out := make([]detection, len(di))
	for d, i := range di {
		out[d] = detection{score: dets[i].Score, img: dets[i].Image, idx: i}
	}
	taken := make([]bool, len(gi))
	for t, thr := range ious {
		clear(taken)
		for d := range di {
			best, bestIoU := -1, 0.0
			for g := range gi {
				v := iou[d*len(gi)+g]
				if taken[g] || v < thr {
					continue
				}
				if best < 0 || v > bestIoU {
					best, bestIoU = g, v
				}
			}
			if best >= 0 {
				taken[best] = true
				out[d].tp[t] = true
			}
		}
	}
	return out
}

// interpolatedAP is COCO's 101-point AP at threshold index t over detections
// sorted by descending score: precision is made monotone from the right (the
// envelope), then read at the first rank whose recall reaches each recall
// threshold, 0 where recall never does, and averaged.
func interpolatedAP(all []detection, t, nGT int, recalls []float64) float64 {
	nd := len(all)
	rc := make([]float64, nd)
	pr := make([]float64, nd)
	tp, fp := 0, 0
	for i, d := range all {
		if d.tp[t] {
			tp++
		} else {
			fp++
		}
		rc[i] = float64(tp) / float64(nGT)
		pr[i] = float64(tp) / float64(tp+fp)
	}
	for i := nd - 1; i > 0; i-- {
		pr[i-1] = math.Max(pr[i-1], pr[i])
	}
	var sum float64
	for _, r := range recalls {
		i := sort.SearchFloat64s(rc, r) // first i with rc[i] >= r
		if i < nd {
			sum += pr[i]
		}
	}
	return sum / float64(len(recalls))
}

// IoU returns |a∩b| / |a∪b| for two sorted, duplicate-free pixel lists, and 0
// when both are empty.
func IoU(a, b []int32) float64 {
	if len(a) == 0 || len(b) == 0 || a[len(a)-1] < b[0] || b[len(b)-1] < a[0] {
		return 0
	}
	inter, i, j := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			inter++
			i++
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

func checkPixels(p []int32) error {
	for i, v := range p {
		if v < 0 {
			return fmt.Errorf("pixel %d is negative (%d)", i, v)
		}
		if i > 0 && v <= p[i-1] {
			return fmt.Errorf("pixels not strictly increasing at %d (%d after %d)", i, v, p[i-1])
		}
	}
	return nil
}
