package metrics

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkMaskAP scores a test set shaped like lt-seg: 1000 64×64 scenes,
// 20 categories, 4 ground-truth instances and 6 detections per scene.
func BenchmarkMaskAP(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	var gt, dets []Instance
	for img := 0; img < 1000; img++ {
		for k := int32(0); k < 4; k++ {
			cat := r.IntN(20)
			lo := k * 1024
			gt = append(gt, Instance{Image: img, Category: cat, Pixels: span(lo, lo+300)})
			dets = append(dets, Instance{Image: img, Category: cat, Pixels: span(lo+int32(r.IntN(100)), lo+300), Score: r.Float64()})
			if k < 2 {
				dets = append(dets, Instance{Image: img, Category: r.IntN(20), Pixels: span(lo+500, lo+700), Score: r.Float64()})
			}
		}
	}
	for b.Loop() {
		if _, err := MaskAP(gt, dets, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
}
