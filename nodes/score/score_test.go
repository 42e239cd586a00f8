package score

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/artifact"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// writeSet writes n 8×8 images of 4 classes (class c lights quadrant c);
// with source set it is a pool dir tagged so, and shuffle relabels every
// image at random.
func writeSet(t *testing.T, n int, seed uint64, source string, shuffle bool) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	c := &format.Classification{N: n, H: 8, W: 8, Images: make([]uint8, n*64), Labels: make([]int64, n),
		Meta: format.ClassMeta{Classes: []string{"a", "b", "c", "d"}}}
	for i := 0; i < n; i++ {
		lab := i % 4
		c.Labels[i] = int64(lab)
		if shuffle {
			c.Labels[i] = int64(r.IntN(4))
		}
		for j := 0; j < 64; j++ {
			v := r.IntN(40)
			if (j/32)*2+(j%8)/4 == lab {
				v += 180
			}
			c.Images[i*64+j] = uint8(v)
		}
	}
	dir := filepath.Join(t.TempDir(), "set")
	save := c.Save
	if source != "" {
		save = func(dir string) error { return c.SaveWithSource(dir, source) }
	}
	if err := save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// trainedModel fits an mlp to dir for a few steps and saves it as a train
// node's output (model/ inside).
func trainedModel(t *testing.T, dir string) (string, *nn.Model) {
	t.Helper()
	ds, err := loadReal(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.New(nn.Config{Arch: nn.ArchMLP, Classes: 4, H: 8, W: 8, Hidden: []int{16}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	b := ds.Batch(all)
	opt := &nn.SGD{Momentum: 0.9}
	for range 15 {
		_, g, _ := m.FlatGrad(b.X, b.Y, nil, nil)
		m.Step(opt, g, 0.05)
	}
	out := t.TempDir()
	if err := m.Save(filepath.Join(out, format.ModelDir)); err != nil {
		t.Fatal(err)
	}
	return out, m
}

func runScore(t *testing.T, p Params, model, real string, pools []string) string {
	t.Helper()
	node, err := Kind().New(nodes.Build{}, &p)
	if err != nil {
		t.Fatal(err)
	}
	env := &nodes.Env{Inputs: map[string][]string{"model": {model}, "real": {real}, "pool": pools}, OutDir: t.TempDir()}
	if err := node.Run(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	return env.OutDir
}

func load(t *testing.T, dir string) ([]float64, []int64, Metrics) {
	t.Helper()
	s, err := artifact.LoadNPY(filepath.Join(dir, format.ScoresFile))
	if err != nil {
		t.Fatal(err)
	}
	a, err := artifact.LoadNPY(filepath.Join(dir, format.AcceptedFile))
	if err != nil {
		t.Fatal(err)
	}
	var m Metrics
	b, _ := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return s.F64, a.I64, m
}

// TestScores: every item's score is the cosine of its gradient with the
// real gradient over all real images (computed here in one pass, not in
// chunks); top keeps the best half; label noise scores lower.
func TestScores(t *testing.T) {
	real := writeSet(t, 40, 1, "", false)
	modelDir, model := trainedModel(t, real)
	pools := []string{writeSet(t, 10, 2, "clean", false), writeSet(t, 10, 3, "shuffled", true)}
	p := DefaultParams()
	p.RealBatch = 7 // chunks of 7, 7, …, 5
	out := runScore(t, p, modelDir, real, pools)
	scores, accepted, m := load(t, out)

	ds, _ := loadReal(real)
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	rb := ds.Batch(all)
	_, gR, _ := model.FlatGrad(rb.X, rb.Y, nil, nil)
	pool, _ := format.LoadPools(pools)
	if len(scores) != pool.N() {
		t.Fatalf("%d scores for %d items", len(scores), pool.N())
	}
	for i := range pool.N() {
		b := learn.Gather(pool.Images, pool.H*pool.W, pool.Labels, 1, []int{i})
		_, g, _ := model.FlatGrad(b.X, b.Y, nil, nil)
		var dot, aa, bb float64
		for k := range g {
			dot += float64(gR[k]) * float64(g[k])
			aa += float64(gR[k]) * float64(gR[k])
			bb += float64(g[k]) * float64(g[k])
		}
		want := dot / (math.Sqrt(aa)*math.Sqrt(bb) + 1e-8)
		if math.Abs(scores[i]-want) > 1e-4 {
			t.Errorf("item %d: score %v, want %v", i, scores[i], want)
		}
	}
	if len(accepted) != 10 {
		t.Fatalf("top 0.5 of 20 kept %d", len(accepted))
	}
	minKept, maxDropped := math.Inf(1), math.Inf(-1)
	for i, s := range scores {
		if slices.Contains(accepted, int64(i)) {
			minKept = min(minKept, s)
		} else {
			maxDropped = max(maxDropped, s)
		}
	}
	if minKept < maxDropped {
		t.Errorf("kept a score of %v but dropped %v", minKept, maxDropped)
	}
	if m.AcceptBySource["clean"] <= m.AcceptBySource["shuffled"] || m.AcceptRate != 0.5 {
		t.Errorf("acceptance %v by source %v: clean labels should score higher", m.AcceptRate, m.AcceptBySource)
	}
}

// TestBatchesAndThreshold: units of batch items never span pool dirs and
// share one score; the threshold rule keeps exactly the units >= tau.
// (That the train kind's offline mode reads the output is checked by the
// format round-trip test, format/roundtrip_test.go.)
func TestBatchesAndThreshold(t *testing.T) {
	real := writeSet(t, 24, 4, "", false)
	modelDir, _ := trainedModel(t, real)
	pools := []string{writeSet(t, 10, 5, "clean", false), writeSet(t, 10, 6, "shuffled", true)}
	p := DefaultParams()
	p.Batch, p.Keep, p.Tau = 4, KeepThreshold, 0
	out := runScore(t, p, modelDir, real, pools)
	scores, accepted, m := load(t, out)
	// Units: 0-3, 4-7, 8-9 | 10-13, 14-17, 18-19.
	for _, u := range [][2]int{{0, 4}, {4, 8}, {8, 10}, {10, 14}, {14, 18}, {18, 20}} {
		for i := u[0]; i < u[1]; i++ {
			if scores[i] != scores[u[0]] {
				t.Errorf("item %d: score %v differs from its unit's %v", i, scores[i], scores[u[0]])
			}
		}
	}
	if scores[9] == scores[10] {
		t.Error("a unit spans the two pool dirs")
	}
	var want []int64
	for i, s := range scores {
		if s >= 0 {
			want = append(want, int64(i))
		}
	}
	if !slices.Equal(accepted, want) && !(len(accepted) == 0 && len(want) == 0) {
		t.Errorf("accepted %v, want %v", accepted, want)
	}
	if m.Units != 6 || m.Items != 20 || m.Accepted != len(want) {
		t.Errorf("metrics %+v", m)
	}
}

func TestParamsErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Params)
		want string
	}{
		{func(p *Params) { p.Batch = 0 }, "batch 0"},
		{func(p *Params) { p.Keep = "best" }, `keep "best"`},
		{func(p *Params) { p.Top = 1.5 }, "top 1.5"},
	} {
		p := DefaultParams()
		c.edit(&p)
		if _, err := Kind().New(nodes.Build{}, &p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}
