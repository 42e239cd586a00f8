package vae

import (
	"path/filepath"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

// TestClassConditionalReal trains a ci-sized model on the real lt-seg
// reference corpus and checks that a nearest-centroid classifier of that
// corpus recognizes most samples' intended category (chance: 1 in 20).
func TestClassConditionalReal(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on the real reference corpus")
	}
	lt := ltseg(t)
	refDir := filepath.Join(lt, "reference")
	iters, ftIters, minRate := 300, 50, []float64{0.5, 0.35}
	if raceEnabled {
		iters, ftIters, minRate = 120, 20, []float64{0.3, 0.2}
	}
	model := runKind(t, TrainKind(), nodes.Build{}, func(p *TrainParams) { p.Iterations, p.FinetuneIterations = iters, ftIters },
		map[string][]string{"data": {refDir}, "finetune": {filepath.Join(lt, "train")}})
	ref, err := format.LoadClassification(refDir)
	if err != nil {
		t.Fatal(err)
	}
	self := centroidRate(ref, ref.Images, ref.Labels)
	for _, tc := range []struct {
		temperature, min float64
	}{{1, minRate[0]}, {1.5, minRate[1]}} {
		pool, err := format.LoadPool(runKind(t, SampleKind(), nodes.Build{}, func(p *SampleParams) {
			p.NPerClass, p.Temperature = 50, tc.temperature
		}, map[string][]string{"model": {model}}))
		if err != nil {
			t.Fatal(err)
		}
		r := centroidRate(ref, pool.Images, pool.Labels)
		t.Logf("temperature %v: nearest-centroid agreement %.3f (the reference corpus itself: %.3f, chance 0.05)", tc.temperature, r, self)
		if r < tc.min {
			t.Errorf("temperature %v: agreement %.3f, want at least %v", tc.temperature, r, tc.min)
		}
	}
}
