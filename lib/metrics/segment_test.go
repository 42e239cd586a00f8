package metrics

import (
	"math"
	"slices"
	"testing"
)

func TestDetect(t *testing.T) {
	// 3×3 image, 3 channels (background, A, B). Class map:
	//   A A 0
	//   0 0 B
	//   B 0 B      → A: {0,1}; B: {5,8} (4-apart, 8-joined) and {6}.
	const h, w = 3, 3
	classes := []int{1, 1, 0, 0, 0, 2, 2, 0, 2}
	probs := make([]float32, 3*h*w)
	for p, c := range classes {
		for k := 0; k < 3; k++ {
			probs[k*h*w+p] = 0.1
		}
		probs[c*h*w+p] = 0.5 + 0.05*float32(p)
	}
	dets, got, err := Detect(7, probs, h, w, 0, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, classes) {
		t.Errorf("class map %v, want %v", got, classes)
	}
	mean := func(ps ...int) float64 {
		var s float64
		for _, p := range ps {
			s += float64(0.5 + 0.05*float32(p))
		}
		return s / float64(len(ps))
	}
	want := []Instance{
		{Image: 7, Category: 1, Pixels: []int32{0, 1}, Score: mean(0, 1)},
		{Image: 7, Category: 2, Pixels: []int32{5, 8}, Score: mean(5, 8)},
		{Image: 7, Category: 2, Pixels: []int32{6}, Score: mean(6)},
	}
	if len(dets) != len(want) {
		t.Fatalf("detections %+v, want %+v", dets, want)
	}
	for i := range want {
		if dets[i].Image != want[i].Image || dets[i].Category != want[i].Category ||
			!slices.Equal(dets[i].Pixels, want[i].Pixels) || math.Abs(dets[i].Score-want[i].Score) > 1e-9 {
			t.Errorf("detection %d = %+v, want %+v", i, dets[i], want[i])
		}
	}
	dets, _, err = Detect(7, probs, h, w, 2, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if len(dets) != 2 {
		t.Errorf("min_pixels 2 kept %d detections, want 2 (the single pixel dropped)", len(dets))
	}
	if _, _, err := Detect(0, probs[:h*w], h, w, 0, InstancesByClass); err == nil {
		t.Error("one channel: no error")
	}
	if _, _, err := Detect(0, probs, h, w, 0, "pixels"); err == nil {
		t.Error("unknown mode: no error")
	}
}

func TestDetectForeground(t *testing.T) {
	// 2×3 image, 3 channels (background, A, B). Class map:
	//   A B 0
	//   0 0 B     → one foreground component {0, 1, 5} (8-connected) and
	// nothing else. Mean probability over it: A (0.6+0.3+0.2)/3 = 1.1/3,
	// B (0.3+0.5+0.7)/3 = 1.5/3 → category B (2), score 0.5. By class it
	// would be two fragments: A {0} and B {1, 5}.
	const h, w = 2, 3
	probs := []float32{
		0.1, 0.2, 0.9, 0.8, 0.9, 0.1, // background
		0.6, 0.3, 0.05, 0.1, 0.05, 0.2, // A
		0.3, 0.5, 0.05, 0.1, 0.05, 0.7, // B
	}
	dets, classes, err := Detect(3, probs, h, w, 0, InstancesByForeground)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{1, 2, 0, 0, 0, 2}; !slices.Equal(classes, want) {
		t.Errorf("class map %v, want %v", classes, want)
	}
	if len(dets) != 1 || dets[0].Image != 3 || dets[0].Category != 2 || !slices.Equal(dets[0].Pixels, []int32{0, 1, 5}) ||
		math.Abs(dets[0].Score-(float64(float32(0.3))+float64(float32(0.5))+float64(float32(0.7)))/3) > 1e-12 {
		t.Errorf("foreground detections %+v, want one of category 2 over pixels 0, 1, 5 scored 0.5", dets)
	}
	byClass, _, err := Detect(3, probs, h, w, 0, InstancesByClass)
	if err != nil {
		t.Fatal(err)
	}
	if len(byClass) != 2 {
		t.Errorf("by class: %d detections, want 2 fragments", len(byClass))
	}
}

// TestSegmentationEvalOrder: detections are scored by image, then by
// descending score, ties in the order added; pixel accuracy counts every
// pixel added. Two 1×2 images, channel 0 background, 1 category A.
func TestSegmentationEvalOrder(t *testing.T) {
	e := &SegmentationEval{H: 1, W: 2, Categories: 1, Groups: map[int]string{1: Rare}, Mode: InstancesByClass, Protocol: COCO}
	// Image 1 first: A on pixel 1 (p 0.6); image 0: A on pixel 0 (p 0.9).
	if err := e.Add(1, []float32{0.9, 0.4, 0.1, 0.6}, []uint8{0, 1}); err != nil {
		t.Fatal(err)
	}
	if err := e.Add(0, []float32{0.1, 0.8, 0.9, 0.2}, []uint8{1, 1}); err != nil {
		t.Fatal(err)
	}
	gt := []Instance{{Image: 0, Category: 1, Pixels: []int32{0, 1}}, {Image: 1, Category: 1, Pixels: []int32{1}}}
	s, err := e.Score(gt)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Detections) != 2 || s.Detections[0].Image != 0 || s.Detections[1].Image != 1 {
		t.Errorf("detections %+v, want image 0's then image 1's", s.Detections)
	}
	if s.PixelAccuracy != 0.75 {
		t.Errorf("pixel accuracy %v, want 3/4", s.PixelAccuracy)
	}
	want, err := MaskAP(gt, s.Detections, []int{1}, map[int]string{1: Rare})
	if err != nil {
		t.Fatal(err)
	}
	if s.AP != want.AP || s.APr != want.APr || s.APr == -1 {
		t.Errorf("AP %v APr %v, want %v and %v", s.AP, s.APr, want.AP, want.APr)
	}
	if err := e.Add(2, []float32{0.5, 0.5}, []uint8{0, 0}); err == nil {
		t.Error("one channel: no error")
	}
}

func TestGroundTruthArrays(t *testing.T) {
	// Two 1×3 images; image 1 has instance 2 before instance 1.
	sem := []uint8{0, 1, 1, 2, 0, 1}
	ins := []int32{0, 1, 1, 2, 0, 1}
	gt, err := GroundTruth(sem, ins, 2, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(gt) != 3 || gt[0].Image != 0 || gt[1].Image != 1 || gt[1].Category != 1 || !slices.Equal(gt[1].Pixels, []int32{2}) ||
		gt[2].Category != 2 || !slices.Equal(gt[2].Pixels, []int32{0}) {
		t.Errorf("ground truth %+v, want image 0's instance, then image 1's by id", gt)
	}
	if _, err := GroundTruth(sem, ins[:5], 2, 1, 3); err == nil {
		t.Error("short instance map: no error")
	}
}

func TestGroupLetter(t *testing.T) {
	for name, want := range map[string]string{"rare": Rare, "common": Common, "frequent": Frequent} {
		if got, ok := GroupLetter(name); !ok || got != want {
			t.Errorf("GroupLetter(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
	if _, ok := GroupLetter("r"); ok {
		t.Error("GroupLetter(\"r\"): ok")
	}
}
