package metrics

import (
	"math"
	"slices"
	"testing"
)

// span returns the pixel list lo, lo+1, …, hi−1.
func span(lo, hi int32) []int32 {
	var p []int32
	for i := lo; i < hi; i++ {
		p = append(p, i)
	}
	return p
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestThresholdGrids(t *testing.T) {
	ious, recalls := IoUThresholds(), RecallThresholds()
	if len(ious) != 10 || !near(ious[0], 0.5) || ious[9] != 0.95 || !near(ious[5], 0.75) {
		t.Errorf("IoU thresholds %v, want 0.50:0.05:0.95", ious)
	}
	if len(recalls) != 101 || recalls[0] != 0 || recalls[100] != 1 || !near(recalls[33], 0.33) {
		t.Errorf("recall thresholds %v, want 0:0.01:1", recalls)
	}
}

func TestIoU(t *testing.T) {
	tests := []struct {
		a, b []int32
		want float64
	}{
		{span(0, 10), span(5, 15), 5.0 / 15},
		{span(0, 10), span(0, 10), 1},
		{span(0, 10), span(10, 20), 0},
		{[]int32{1, 3, 5, 7}, []int32{3, 4, 5}, 2.0 / 5},
		{nil, span(0, 3), 0},
		{nil, nil, 0},
	}
	for _, tt := range tests {
		if got := IoU(tt.a, tt.b); got != tt.want {
			t.Errorf("IoU(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
		if got := IoU(tt.b, tt.a); got != tt.want {
			t.Errorf("IoU is not symmetric on %v, %v: %v", tt.a, tt.b, got)
		}
	}
}

// handCase is one image, category 1, three ground-truth masks A, B, C and
// four detections:
//
//	score 0.9: exactly A                      IoU 1 with A
//	score 0.8: pixels 60–69, no ground truth  false positive
//	score 0.7: B plus 5 more pixels           IoU 10/15 = 2/3 with B
//	score 0.6: exactly C                      IoU 1 with C
//
// At IoU thresholds 0.50, 0.55, 0.60, 0.65 (2/3 clears them) the ranked list
// is TP FP TP TP:
//
//	recall    1/3 1/3 2/3 1
//	precision 1   1/2 2/3 3/4   envelope: 1 3/4 3/4 3/4
//
// Recall levels 0.00–0.33 (34 of them) read rank 1 → 1; 0.34–0.66 (33) read
// rank 3 → 3/4; 0.67–1.00 (34) read rank 4 → 3/4. AP = (34 + 67·0.75)/101 =
// 84.25/101.
//
// At 0.70 … 0.95 (six thresholds) the 0.7 detection misses: TP FP FP TP,
//
//	recall    1/3 1/3 1/3 2/3
//	precision 1   1/2 1/3 1/2   envelope: 1 1/2 1/2 1/2
//
// 0.00–0.33 → 1 (34 levels), 0.34–0.66 → 1/2 (33), 0.67–1.00 → never
// reached → 0. AP = (34 + 16.5)/101 = 50.5/101.
//
// Over the ten thresholds: (4·84.25 + 6·50.5)/(10·101) = 640/1010.
func handCase(cat, img int) (gt, dets []Instance) {
	gt = []Instance{
		{Image: img, Category: cat, Pixels: span(0, 10)},
		{Image: img, Category: cat, Pixels: span(20, 30)},
		{Image: img, Category: cat, Pixels: span(40, 50)},
	}
	dets = []Instance{
		{Image: img, Category: cat, Pixels: span(60, 70), Score: 0.8}, // input order ≠ score order
		{Image: img, Category: cat, Pixels: span(40, 50), Score: 0.6},
		{Image: img, Category: cat, Pixels: span(0, 10), Score: 0.9},
		{Image: img, Category: cat, Pixels: span(20, 35), Score: 0.7},
	}
	return gt, dets
}

const (
	handAP   = 640.0 / 1010
	handAP50 = 84.25 / 101
	handAP75 = 50.5 / 101
)

func TestMaskAPHandWorked(t *testing.T) {
	gt, dets := handCase(1, 0)
	res, err := MaskAP(gt, dets, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !near(res.AP, handAP) || !near(res.AP50, handAP50) || !near(res.AP75, handAP75) {
		t.Errorf("AP, AP50, AP75 = %v, %v, %v, want %v, %v, %v", res.AP, res.AP50, res.AP75, handAP, handAP50, handAP75)
	}
	if !near(res.PerCategory[1], handAP) || !near(res.PerCategory50[1], handAP50) {
		t.Errorf("per category = %v / %v, want %v / %v", res.PerCategory, res.PerCategory50, handAP, handAP50)
	}
	if res.APr != -1 || res.APc != -1 || res.APf != -1 || len(res.Groups) != 0 {
		t.Errorf("no groups given, but APr/c/f = %v/%v/%v, groups %v", res.APr, res.APc, res.APf, res.Groups)
	}
}

func TestMaskAPPerfect(t *testing.T) {
	var gt, dets []Instance
	for img := 0; img < 3; img++ {
		for cat := 1; cat <= 4; cat++ {
			for k := int32(0); k < int32(cat); k++ {
				g := Instance{Image: img, Category: cat, Pixels: span(100*k, 100*k+int32(10+img))}
				gt = append(gt, g)
				g.Score = 0.1 * float64(k+1)
				dets = append(dets, g)
			}
		}
	}
	res, err := MaskAP(gt, dets, nil, map[int]string{1: Rare, 2: Common, 3: Frequent, 4: Frequent})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]float64{"AP": res.AP, "AP50": res.AP50, "AP75": res.AP75, "APr": res.APr, "APc": res.APc, "APf": res.APf} {
		if v != 1 {
			t.Errorf("%s = %v, want 1", name, v)
		}
	}
	if len(res.PerCategory) != 4 {
		t.Errorf("per category %v, want 4 categories", res.PerCategory)
	}
}

func TestMaskAPEmptyPredictions(t *testing.T) {
	gt, _ := handCase(1, 0)
	res, err := MaskAP(gt, nil, []int{1}, map[int]string{1: Common})
	if err != nil {
		t.Fatal(err)
	}
	if res.AP != 0 || res.AP50 != 0 || res.APc != 0 || res.PerCategory[1] != 0 {
		t.Errorf("no detections: %+v, want AP 0 everywhere", res)
	}
	if _, ok := res.PerCategory[1]; !ok {
		t.Error("category with ground truth but no detections missing from PerCategory")
	}
	res, err = MaskAP(nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.AP != -1 || len(res.PerCategory) != 0 {
		t.Errorf("nothing at all: AP %v per category %v, want -1 and none", res.AP, res.PerCategory)
	}
}

func TestMaskAPCategoriesAndGroups(t *testing.T) {
	// category 1 (rare): the hand case → 640/1010
	gt, dets := handCase(1, 0)
	// category 2 (frequent): perfect in image 1 → 1
	gt = append(gt, Instance{Image: 1, Category: 2, Pixels: span(0, 30)})
	dets = append(dets, Instance{Image: 1, Category: 2, Pixels: span(0, 30), Score: 0.5})
	// category 3 (common): ground truth, no detections → 0
	gt = append(gt, Instance{Image: 1, Category: 3, Pixels: span(50, 60)})
	// category 4 (common): detections but no ground truth → excluded
	dets = append(dets, Instance{Image: 1, Category: 4, Pixels: span(50, 60), Score: 0.99})
	// category 5 (frequent): listed, nothing at all → excluded
	// category 6: ground truth and detections, but not listed → ignored
	gt = append(gt, Instance{Image: 0, Category: 6, Pixels: span(0, 5)})
	groups := map[int]string{1: Rare, 2: Frequent, 3: Common, 4: Common, 5: Frequent}

	res, err := MaskAP(gt, dets, []int{5, 4, 3, 2, 1, 1}, groups)
	if err != nil {
		t.Fatal(err)
	}
	wantPer := map[int]float64{1: handAP, 2: 1, 3: 0}
	if len(res.PerCategory) != len(wantPer) {
		t.Errorf("per category %v, want keys 1, 2, 3", res.PerCategory)
	}
	for c, w := range wantPer {
		if got, ok := res.PerCategory[c]; !ok || !near(got, w) {
			t.Errorf("category %d: AP %v (present %v), want %v", c, got, ok, w)
		}
	}
	checks := []struct {
		name      string
		got, want float64
	}{
		{"AP", res.AP, (handAP + 1 + 0) / 3},
		{"AP50", res.AP50, (handAP50 + 1 + 0) / 3},
		{"APr", res.APr, handAP},
		{"APc", res.APc, 0}, // category 4 has no ground truth: only 3 counts
		{"APf", res.APf, 1}, // category 5 has nothing: only 2 counts
	}
	for _, c := range checks {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestMaskAPScoreTiesAcrossImages(t *testing.T) {
	// One ground truth in each of images 0 and 1; equal-score detections: a hit
	// in image 0 and a miss in image 1. COCO ranks ties by image, so the list
	// is TP FP: recall 1/2 1/2, precision 1 1/2, envelope 1 1/2; levels
	// 0.00–0.50 (51) read 1, the rest are never reached → AP 51/101 at every
	// IoU threshold. The other order would give 51·0.5/101.
	for _, order := range [][2]int{{0, 1}, {1, 0}} {
		gt := []Instance{
			{Image: 0, Category: 1, Pixels: span(0, 10)},
			{Image: 1, Category: 1, Pixels: span(0, 10)},
		}
		d := []Instance{
			{Image: 0, Category: 1, Pixels: span(0, 10), Score: 0.5},
			{Image: 1, Category: 1, Pixels: span(50, 60), Score: 0.5},
		}
		dets := []Instance{d[order[0]], d[order[1]]}
		res, err := MaskAP(gt, dets, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !near(res.AP, 51.0/101) {
			t.Errorf("input order %v: AP %v, want 51/101", order, res.AP)
		}
	}
}

func TestMatchTakesHighestIoU(t *testing.T) {
	// G0 = 0–8 (9 px), G1 = 0–19 (20 px). det a (0.9) = 0–17: IoU 9/18 = 0.5
	// with G0 and 18/20 = 0.9 with G1, so it takes G1. det b (0.8) = 9–19: IoU
	// 11/20 = 0.55 with G1 (taken) and 0 with G0, so it misses. Taking the
	// first ground truth above the threshold instead would score both as hits.
	gt := []Instance{{Pixels: span(0, 9)}, {Pixels: span(0, 20)}}
	dets := []Instance{{Pixels: span(9, 20), Score: 0.8}, {Pixels: span(0, 18), Score: 0.9}}
	got := matchImage(gt, dets, []int{0, 1}, []int{0, 1}, IoUThresholds())
	if len(got) != 2 || got[0].idx != 1 || got[1].idx != 0 {
		t.Fatalf("matched %+v, want the 0.9 detection first", got)
	}
	if !got[0].tp[0] || got[1].tp[0] {
		t.Errorf("at IoU 0.5: hits %v %v, want true false", got[0].tp[0], got[1].tp[0])
	}
	// At 0.95 neither clears the threshold.
	if got[0].tp[9] || got[1].tp[9] {
		t.Errorf("at IoU 0.95: hits %v %v, want false false", got[0].tp[9], got[1].tp[9])
	}
}

func TestMaskAPMaxDets(t *testing.T) {
	// 100 higher-scored misses push the one hit out of COCO's per-image limit.
	gt := []Instance{{Category: 1, Pixels: span(0, 10)}}
	dets := []Instance{{Category: 1, Pixels: span(0, 10), Score: 0.01}}
	for i := int32(0); i < MaxDetsPerImage; i++ {
		dets = append(dets, Instance{Category: 1, Pixels: span(1000+10*i, 1005+10*i), Score: 0.5})
	}
	res, err := MaskAP(gt, dets, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.AP != 0 {
		t.Errorf("AP %v, want 0 with the hit beyond the limit", res.AP)
	}
	res, err = MaskAP(gt, dets[:MaxDetsPerImage], nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 99 misses then the hit: precision 1/100 at recall 1 on every level.
	if !near(res.AP, 0.01) {
		t.Errorf("AP %v, want 0.01 with the hit at rank 100", res.AP)
	}
}

func TestMaskAPInvalid(t *testing.T) {
	good := []Instance{{Pixels: span(0, 3)}}
	tests := []struct {
		name     string
		gt, dets []Instance
	}{
		{"unsorted gt", []Instance{{Pixels: []int32{2, 1}}}, nil},
		{"duplicate det pixel", good, []Instance{{Pixels: []int32{1, 1}}}},
		{"negative pixel", []Instance{{Pixels: []int32{-1, 2}}}, nil},
		{"NaN score", good, []Instance{{Pixels: span(0, 3), Score: math.NaN()}}},
	}
	for _, tt := range tests {
		if _, err := MaskAP(tt.gt, tt.dets, nil, nil); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestMaskAPDoesNotMutateInputs(t *testing.T) {
	gt, dets := handCase(1, 0)
	before := slices.Clone(dets)
	cats := []int{3, 1}
	if _, err := MaskAP(gt, dets, cats, nil); err != nil {
		t.Fatal(err)
	}
	for i := range dets {
		if dets[i].Score != before[i].Score || !slices.Equal(dets[i].Pixels, before[i].Pixels) {
			t.Errorf("detection %d changed", i)
		}
	}
	if !slices.Equal(cats, []int{3, 1}) {
		t.Errorf("categories reordered to %v", cats)
	}
}
