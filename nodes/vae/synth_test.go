package vae

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/nodes"
)

// shape draws one of three synthetic categories into a 28×28 image with a
// little jitter: 0 a horizontal bar, 1 a vertical bar, 2 a square ring.
func shape(rng *rand.Rand, c int) []uint8 {
	img := make([]uint8, 28*28)
	dx, dy := rng.IntN(5)-2, rng.IntN(5)-2
	for y := range 28 {
		for x := range 28 {
			X, Y := x-14-dx, y-14-dy
			var on bool
			switch c {
			case 0:
				on = X >= -9 && X < 9 && Y >= -3 && Y < 3
			case 1:
				on = X >= -3 && X < 3 && Y >= -9 && Y < 9
			case 2:
				in := X >= -8 && X < 8 && Y >= -8 && Y < 8
				hole := X >= -5 && X < 5 && Y >= -5 && Y < 5
				on = in && !hole
			}
			if on {
				img[y*28+x] = uint8(200 + rng.IntN(56))
			}
		}
	}
	return img
}

// synthReference writes a classification dir of perClass images of each of
// the three synthetic categories.
func synthReference(t *testing.T, perClass int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 3))
	c := &format.Classification{H: 28, W: 28, Meta: format.ClassMeta{Classes: []string{"hbar", "vbar", "ring"}}}
	for i := range 3 * perClass {
		c.Images = append(c.Images, shape(rng, i%3)...)
		c.Labels = append(c.Labels, int64(i%3))
		c.N++
	}
	dir := t.TempDir()
	if err := c.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// synthScenes writes a segmentation dir of 40×40 scenes, each with a
// horizontal bar (category 0, instance 1) at the top and a ring (category
// 2, instance 2) at the bottom.
func synthScenes(t *testing.T, n int) string {
	t.Helper()
	s := &format.Segmentation{H: 40, W: 40, COCO: &artifact.COCO{},
		Meta: format.SegMeta{Classes: []string{"hbar", "vbar", "ring"}}}
	for range n {
		img := make([]uint8, 1600)
		sem := make([]uint8, 1600)
		ins := make([]int32, 1600)
		for y := range 40 {
			for x := range 40 {
				p := y*40 + x
				switch {
				case y >= 2 && y < 6 && x >= 4 && x < 20: // 16×4 bar
					img[p], sem[p], ins[p] = 230, 1, 1
				case y >= 20 && y < 32 && x >= 20 && x < 32 && !(y >= 23 && y < 29 && x >= 23 && x < 29):
					img[p], sem[p], ins[p] = 210, 3, 2
				}
			}
		}
		s.Images, s.Semantic, s.Instances = append(s.Images, img...), append(s.Semantic, sem...), append(s.Instances, ins...)
		s.N++
	}
	dir := t.TempDir()
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tiny makes vae-train fast enough for -race.
func tiny(p *TrainParams) {
	p.Latent, p.Hidden, p.Iterations, p.BatchSize, p.FinetuneIterations = 4, 16, 80, 16, 20
	p.LR = 5e-3
}

func readLoss(t *testing.T, dir string) map[string][]float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "loss.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float64{}
	for i, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i == 0 {
			if line != "phase,iteration,recon,kl,loss" {
				t.Fatalf("loss.csv header %q", line)
			}
			continue
		}
		f := strings.Split(line, ",")
		v, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			t.Fatal(err)
		}
		out[f[0]] = append(out[f[0]], v)
	}
	return out
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestTrainLossDecreasesAndIsDeterministic(t *testing.T) {
	ref := synthReference(t, 40)
	in := map[string][]string{"data": {ref}}
	a := runKind(t, TrainKind(), nodes.Build{}, tiny, in)
	loss := readLoss(t, a)
	if got := len(loss["train"]); got != 80 {
		t.Fatalf("loss.csv has %d train rows, want 80", got)
	}
	first, last := mean(loss["train"][:10]), mean(loss["train"][70:])
	if !(last < 0.6*first) {
		t.Errorf("loss went from %v (first 10) to %v (last 10), want below 60%%", first, last)
	}
	for _, f := range []string{"model/model.json", "model/enc.weight.npy", "model/prior_mean.npy", "metrics.json", "preview.png"} {
		if _, err := os.Stat(filepath.Join(a, f)); err != nil {
			t.Errorf("output lacks %s: %v", f, err)
		}
	}
	b := runKind(t, TrainKind(), nodes.Build{}, tiny, in)
	if treeDigest(t, a) != treeDigest(t, b) {
		t.Error("two runs with equal params and data differ")
	}
	c := runKind(t, TrainKind(), nodes.Build{}, func(p *TrainParams) { tiny(p); p.Seed = 1 }, in)
	if treeDigest(t, a) == treeDigest(t, c) {
		t.Error("seeds 0 and 1 give identical outputs")
	}
}

func TestFinetune(t *testing.T) {
	ref, scenes := synthReference(t, 40), synthScenes(t, 6)
	base := runKind(t, TrainKind(), nodes.Build{}, tiny, map[string][]string{"data": {ref}})
	ft := runKind(t, TrainKind(), nodes.Build{}, tiny, map[string][]string{"data": {ref}, "finetune": {scenes}})
	loss := readLoss(t, ft)
	if len(loss["train"]) != 80 || len(loss["finetune"]) != 20 {
		t.Fatalf("loss.csv has %d train and %d finetune rows, want 80 and 20", len(loss["train"]), len(loss["finetune"]))
	}
	// The pre-training phase is the same computation with or without
	// fine-tuning.
	if baseLoss := readLoss(t, base)["train"]; !equalFloats(baseLoss, loss["train"]) {
		t.Error("the train phase differs when finetune is bound")
	}
	m, err := os.ReadFile(filepath.Join(ft, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	// 6 scenes × 2 instances.
	if !bytes.Contains(m, []byte(`"finetune_instances": 12`)) {
		t.Errorf("metrics.json = %s, want finetune_instances 12", m)
	}
	// Category 1 has no real instances: its prior stays the reference fit,
	// while category 0's and 2's are refitted.
	vb, err := LoadVAE(filepath.Join(base, "model"))
	if err != nil {
		t.Fatal(err)
	}
	vf, err := LoadVAE(filepath.Join(ft, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if vb.prior.Mean[0] == vf.prior.Mean[0] {
		t.Error("fine-tuning left category 0's prior mean unchanged")
	}
	bad := synthReference(t, 2)
	meta := []byte(`{"task":"classification","classes":["a","b","c"]}`)
	if err := os.WriteFile(filepath.Join(bad, "meta.json"), meta, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = tryRunKind(t, TrainKind(), nodes.Build{}, tiny, map[string][]string{"data": {bad}, "finetune": {scenes}})
	if err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("mismatched class lists: error = %v, want one saying they differ", err)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCropInstances(t *testing.T) {
	s, err := format.LoadSegmentation(synthScenes(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	// Bar: 16×4 box, scaled to longer side 8 → 8×2, centred in 12×12 at
	// (2, 5). Ring: 12×12 box, longer side 12 (size) → the whole canvas.
	xs, labels, err := cropInstances(s, []float64{8, 0, 0}, 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(labels) != 2 || labels[0] != 0 || labels[1] != 2 {
		t.Fatalf("labels = %v, want [0 2]", labels)
	}
	for y := range 12 {
		for x := range 12 {
			want := uint8(0)
			if x >= 2 && x < 10 && y >= 5 && y < 7 {
				want = 230
			}
			if got := xs[y*12+x]; got != want {
				t.Fatalf("bar crop at (%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
	ring := xs[144:]
	if ring[0] != 210 || ring[6*12+6] != 0 {
		t.Errorf("ring crop corner %v centre %v, want 210 and 0", ring[0], ring[6*12+6])
	}
}

func TestSamplePrefixStableAndDeterministic(t *testing.T) {
	model := runKind(t, TrainKind(), nodes.Build{}, tiny, map[string][]string{"data": {synthReference(t, 20)}})
	in := map[string][]string{"model": {model}}
	load := func(set func(*SampleParams)) *format.Pool {
		t.Helper()
		p, err := format.LoadPool(runKind(t, SampleKind(), nodes.Build{}, set, in))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	small := load(func(p *SampleParams) { p.NPerClass = 70 })
	big := load(func(p *SampleParams) { p.NPerClass = 150 })
	if small.N != 210 || big.N != 450 {
		t.Fatalf("pools of %d and %d items, want 210 and 450", small.N, big.N)
	}
	if small.Meta.Source != "vae-t1.0" || small.Meta.PerClass != 70 || len(small.Meta.Classes) != 3 {
		t.Errorf("meta = %+v", small.Meta)
	}
	P := 28 * 28
	for c := range 3 {
		for j := range 150 {
			if got := big.Labels[c*150+j]; got != int64(c) {
				t.Fatalf("big pool item %d has label %d, want %d (category-major)", c*150+j, got, c)
			}
		}
		a := small.Images[c*70*P : (c+1)*70*P]
		b := big.Images[c*150*P : (c*150+70)*P]
		if !bytes.Equal(a, b) {
			t.Errorf("category %d: first 70 items differ between n_per_class 70 and 150", c)
		}
	}
	again := load(func(p *SampleParams) { p.NPerClass = 70 })
	if !bytes.Equal(again.Images, small.Images) {
		t.Error("equal params give different pools")
	}
	other := load(func(p *SampleParams) { p.NPerClass = 70; p.Seed = 9 })
	if bytes.Equal(other.Images, small.Images) {
		t.Error("seeds 0 and 9 give the same pool")
	}
	// Temperature 0 decodes every item of a category from its prior mean.
	cold := load(func(p *SampleParams) { p.NPerClass = 3; p.Temperature = 0; p.Classes = []int{2} })
	if cold.N != 3 || cold.Labels[0] != 2 || !bytes.Equal(cold.Images[:P], cold.Images[2*P:]) {
		t.Errorf("temperature 0: %d items, labels %v, want 3 identical items of category 2", cold.N, cold.Labels)
	}
	if cold.Meta.Source != "vae-t0.0" {
		t.Errorf("source %q, want vae-t0.0", cold.Meta.Source)
	}
	// The trained model's samples look like their category: the nearest
	// centroid of the synthetic reference is the intended category.
	ref, err := format.LoadClassification(synthReference(t, 20))
	if err != nil {
		t.Fatal(err)
	}
	if r := centroidRate(ref, small.Images, small.Labels); r < 0.9 {
		t.Errorf("nearest-centroid agreement %.3f, want at least 0.9", r)
	}
}
