package score

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// TestScene: a 2×2 mask crop in a 6×6 item, at category side 4, becomes
// a 4×4 block (bilinear, re-thresholded: all of it) centred in an 8×8
// scene, labelled cat+1 and weighted 1 there; the rest is the ground,
// label 0, weight 0. An empty mask gives no scene.
func TestScene(t *testing.T) {
	img, mask := make([]uint8, 36), make([]uint8, 36)
	for _, j := range []int{1*6 + 3, 1*6 + 4, 2*6 + 3, 2*6 + 4} {
		img[j], mask[j] = 255, 1
	}
	x, y, w, ok := scene(img, mask, 6, 6, 8, 8, 2, format.SizeStat{Count: 3, SideMean: 4}, 0.25)
	if !ok {
		t.Fatal("no scene")
	}
	for j := range 64 {
		in := j/8 >= 2 && j/8 < 6 && j%8 >= 2 && j%8 < 6
		switch {
		case in && (x[j] != 1 || y[j] != 3 || w[j] != 1):
			t.Errorf("pixel %d: %v %v %v, want the item (1, label 3, weight 1)", j, x[j], y[j], w[j])
		case !in && (x[j] != 0.25 || y[j] != 0 || w[j] != 0):
			t.Errorf("pixel %d: %v %v %v, want the ground (0.25, 0, 0)", j, x[j], y[j], w[j])
		}
	}
	if _, _, _, ok := scene(img, make([]uint8, 36), 6, 6, 8, 8, 2, format.SizeStat{}, 0); ok {
		t.Error("an empty mask made a scene")
	}
}

// TestScoreInstances runs the kind on a segmentation model and real set
// and an instances dir: each item's score (batch 1) is the cosine of its
// scene's weighted gradient with the real gradient, computed here from
// the same model; an empty-mask item is NaN and never accepted; keep top
// accepts round(top·units) items; with batch 2 a unit's items share one
// score.
func TestScoreInstances(t *testing.T) {
	const s, n, k = 8, 6, 2
	classes := []string{"a", "b"}
	seg := &format.Segmentation{N: n, H: s, W: s, Images: make([]uint8, n*s*s), Semantic: make([]uint8, n*s*s),
		Instances: make([]int32, n*s*s), COCO: &artifact.COCO{},
		Meta: format.SegMeta{Classes: classes, SizeStats: map[string]format.SizeStat{"a": {Count: 3, SideMean: 3}, "b": {Count: 3, SideMean: 4}}}}
	for i := range n {
		for j := range s * s {
			seg.Images[i*s*s+j] = 20
			if j/s >= 2 && j/s < 5 && j%s >= 2+i%2 && j%s < 5+i%2 {
				seg.Images[i*s*s+j], seg.Semantic[i*s*s+j] = 200, uint8(1+i%k)
			}
		}
	}
	root := t.TempDir()
	realDir := filepath.Join(root, "real")
	if err := seg.Save(realDir); err != nil {
		t.Fatal(err)
	}
	const m = 5
	in := &format.Instances{N: m, H: 6, W: 6, Images: make([]uint8, m*36), Masks: make([]uint8, m*36), Labels: []int64{0, 1, 0, 1, 1},
		Scores: make([]float32, m), Meta: format.InstancesMeta{Classes: classes, Source: "g"}}
	for i := range m {
		if i == 2 {
			continue // empty mask
		}
		for j := range 36 {
			if j/6 >= 1 && j/6 < 4 && j%6 >= i%3 && j%6 < 3+i%3 {
				in.Images[i*36+j], in.Masks[i*36+j] = uint8(120+20*i), 1
			}
		}
	}
	instDir := filepath.Join(root, "inst")
	if err := os.MkdirAll(instDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := in.Save(instDir); err != nil {
		t.Fatal(err)
	}
	model, err := nn.New(nn.Config{Arch: nn.ArchFCN, Classes: k, H: s, W: s, Channels: []int{4, 4}, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	modelDir := filepath.Join(root, "model")
	if err := model.Save(filepath.Join(modelDir, format.ModelDir)); err != nil {
		t.Fatal(err)
	}
	runScore := func(p Params) ([]float64, []int) {
		node, err := Kind().Construct(nodes.Build{}, &p)
		if err != nil {
			t.Fatal(err)
		}
		out := t.TempDir()
		env := &nodes.Env{Inputs: map[string][]string{"model": {modelDir}, "real": {realDir}, "pool": {instDir}}, OutDir: out, TempDir: t.TempDir()}
		if err := node.Run(context.Background(), env); err != nil {
			t.Fatal(err)
		}
		sc, acc, err := format.LoadScores(out, m)
		if err != nil {
			t.Fatal(err)
		}
		return sc, acc
	}
	p := DefaultParams()
	p.Top = 0.6
	scores, accepted := runScore(p)
	ds, err := learn.Segmentation(seg.Images, seg.Semantic, n, s, s, classes, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, gR, err := RealGradient(context.Background(), model, ds, 256, nil)
	if err != nil {
		t.Fatal(err)
	}
	ground := float32(20.0 / 255)
	for i := range m {
		x, y, w, ok := scene(in.Images[i*36:(i+1)*36], in.Masks[i*36:(i+1)*36], 6, 6, s, s, int(in.Labels[i]), seg.Meta.SizeStats[classes[in.Labels[i]]], ground)
		if !ok {
			if i != 2 || !math.IsNaN(scores[i]) {
				t.Errorf("item %d: no scene, score %v", i, scores[i])
			}
			continue
		}
		_, g, err := model.FlatGrad(x, y, w, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := bsgal.Score(gR, g, true); scores[i] != want {
			t.Errorf("item %d: score %v, want %v", i, scores[i], want)
		}
	}
	if len(accepted) != 3 || slices.Contains(accepted, 2) {
		t.Errorf("accepted %v: want round(0.6·5) = 3 items, not the empty one", accepted)
	}
	p.Batch = 2
	scores2, _ := runScore(p)
	// Units {0, 1}, {2, 3} (2 empty: 3 alone), {4}.
	if scores2[0] != scores2[1] || scores2[0] == scores[0] || !math.IsNaN(scores2[2]) || scores2[3] != scores[3] || scores2[4] != scores[4] {
		t.Errorf("batch 2: scores %v (batch 1: %v)", scores2, scores)
	}
}
