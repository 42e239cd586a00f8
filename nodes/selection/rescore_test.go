package selection

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// TestRescore: two instances dirs (the fixture's images under their true
// squares, and under whole-image masks) are scored in input order by the
// classifier's probability of each item's category on its composite,
// computed here independently with Predict; accepted.npy holds exactly the
// items at or above the threshold whose area is within bounds (so none of
// the whole-image items).
func TestRescore(t *testing.T) {
	f := newFixture(t, 10)
	m, err := nn.New(nn.Config{Arch: nn.ArchCNN, Classes: 2, H: 8, W: 8, Seed: 3})
	must(t, err)
	scorer := t.TempDir()
	must(t, m.Save(filepath.Join(scorer, "model")))
	var dirs []string
	var want, areas []float64
	for _, k := range []int{0, 1} { // annotators square and all
		ms, err := format.LoadMasks(f.masks[k])
		must(t, err)
		in := &format.Instances{N: f.p.N, H: 8, W: 8, Images: f.p.Images, Masks: ms.Masks, Labels: f.p.Labels,
			Scores: make([]float32, f.p.N), Meta: format.InstancesMeta{Classes: f.p.Meta.Classes, Source: "s"}}
		d := filepath.Join(t.TempDir(), "inst")
		must(t, os.MkdirAll(d, 0o755))
		must(t, in.Save(d))
		dirs = append(dirs, d)
		for i := range f.p.N {
			x := make([]float32, 64)
			for j, v := range Composite(f.p.Image(i), ms.Mask(i)) {
				x[j] = float32(v) / 255
			}
			probs, err := m.Predict(x)
			must(t, err)
			want = append(want, float64(probs[f.p.Labels[i]]))
			areas = append(areas, AreaFraction(ms.Mask(i)))
		}
	}
	sorted := slices.Clone(want[:f.p.N])
	slices.Sort(sorted)
	thr := sorted[len(sorted)/2]
	p := DefaultRescoreParams()
	p.Threshold = thr
	node, err := RescoreKind().Construct(nodes.Build{}, &p)
	must(t, err)
	out := t.TempDir()
	env := &nodes.Env{Inputs: map[string][]string{"instances": dirs, "scorer": {scorer}}, OutDir: out, TempDir: t.TempDir()}
	must(t, node.Run(context.Background(), env))
	scores, accepted, err := format.LoadScores(out, 2*f.p.N)
	must(t, err)
	var wantAcc []int
	for i, s := range want {
		if scores[i] != s {
			t.Errorf("item %d: score %v, want %v", i, scores[i], s)
		}
		if s >= thr && areas[i] >= p.MinArea && areas[i] <= p.MaxArea {
			wantAcc = append(wantAcc, i)
		}
	}
	if !slices.Equal(accepted, wantAcc) || len(wantAcc) == 0 || wantAcc[len(wantAcc)-1] >= f.p.N {
		t.Errorf("accepted %v, want %v (some, none of the whole-image items)", accepted, wantAcc)
	}
	var met RescoreMetrics
	b, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &met))
	if met.Items != 2*f.p.N || met.Accepted != len(wantAcc) || met.Dropped[ReasonArea] < f.p.N/2 {
		t.Errorf("metrics %+v", met)
	}
	// A scorer of the wrong shape is refused, naming the problem.
	m3, err := nn.New(nn.Config{Arch: nn.ArchCNN, Classes: 3, H: 8, W: 8, Seed: 3})
	must(t, err)
	bad := t.TempDir()
	must(t, m3.Save(filepath.Join(bad, "model")))
	env = &nodes.Env{Inputs: map[string][]string{"instances": dirs, "scorer": {bad}}, OutDir: t.TempDir(), TempDir: t.TempDir()}
	if err := node.Run(context.Background(), env); err == nil || !strings.Contains(err.Error(), "rescore: classifier scorer") {
		t.Errorf("3-class scorer: err = %v", err)
	}
}
