package train

import (
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
	"dagrun/nodes"
)

// writePool writes a pool dir of n images like writeClassification's with
// the given source tag; shuffle relabels every image at random (a bad
// generator).
func writePool(t *testing.T, n int, seed uint64, source string, shuffle bool) string {
	t.Helper()
	c, err := format.LoadClassification(writeClassification(t, n, seed))
	if err != nil {
		t.Fatal(err)
	}
	if shuffle {
		r := rand.New(rand.NewPCG(seed, 9))
		for i := range c.Labels {
			c.Labels[i] = int64(r.IntN(4))
		}
	}
	dir := filepath.Join(t.TempDir(), "pool-"+source)
	if err := c.SaveWithSource(dir, source); err != nil {
		t.Fatal(err)
	}
	return dir
}

// withGroups rewrites a classification dir's meta with frequency groups.
func withGroups(t *testing.T, dir string) string {
	t.Helper()
	c, err := format.LoadClassification(dir)
	if err != nil {
		t.Fatal(err)
	}
	c.Meta.Groups = map[string]string{"a": "rare", "b": "common", "c": "frequent", "d": "frequent"}
	out := filepath.Join(t.TempDir(), "grouped")
	if err := c.Save(out); err != nil {
		t.Fatal(err)
	}
	return out
}

// decisionRow is one parsed row of decisions.csv.
type decisionRow struct {
	it                  int
	score, tau          float64
	accepted            bool
	sources, categories map[string]int
	items               []int
}

func parseCounts(t *testing.T, s string) map[string]int {
	out := map[string]int{}
	if s == "" {
		return out
	}
	for _, kv := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil {
			t.Fatalf("bad count %q", kv)
		}
		out[k] = n
	}
	return out
}

func readDecisions(t *testing.T, dir string) []decisionRow {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, format.DecisionsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(recs[0], format.DecisionsHeader) {
		t.Fatalf("decisions.csv header %q", recs[0])
	}
	var out []decisionRow
	for _, r := range recs[1:] {
		d := decisionRow{sources: parseCounts(t, r[4]), categories: parseCounts(t, r[5])}
		d.it, _ = strconv.Atoi(r[0])
		if r[6] != "" {
			for _, x := range strings.Split(r[6], ";") {
				n, err := strconv.Atoi(x)
				if err != nil {
					t.Fatalf("bad item %q", x)
				}
				d.items = append(d.items, n)
			}
		}
		d.score, d.tau = math.NaN(), math.NaN()
		if r[1] != "" {
			d.score, _ = strconv.ParseFloat(r[1], 64)
			d.tau, _ = strconv.ParseFloat(r[2], 64)
		}
		d.accepted = r[3] == "true"
		out = append(out, d)
	}
	return out
}

func poolEnv(t *testing.T, train string, pools ...string) *nodes.Env {
	env, _ := newEnv(t, train, "")
	env.Inputs["pool"] = pools
	return env
}

func smallParams(mode string, iters int) Params {
	p := DefaultParams()
	p.Arch, p.Hidden, p.Iterations, p.BatchSize, p.Warmup, p.Seed = "mlp", []int{16}, iters, 8, 2, 7
	p.Select.Mode = mode
	return p
}

// TestCombineEqualsUnion: the mean loss and gradient of a union of two
// batches equal the mass-weighted average of the parts', checked against a
// direct pass over the union on real networks, with and without weights.
func TestCombineEqualsUnion(t *testing.T) {
	for _, c := range []struct {
		name     string
		cfg      nn.Config
		weighted bool
	}{
		{"mlp", nn.Config{Arch: nn.ArchMLP, Classes: 4, H: 8, W: 8, Hidden: []int{16}, Seed: 1}, false},
		{"cnn-weighted", nn.Config{Arch: nn.ArchCNN, Classes: 4, H: 8, W: 8, Seed: 2}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds, _, err := loadDataset(writeClassification(t, 16, 3))
			if err != nil {
				t.Fatal(err)
			}
			m, err := nn.New(c.cfg)
			if err != nil {
				t.Fatal(err)
			}
			real, gen := ds.Batch([]int{0, 1, 2, 3, 4}), ds.Batch([]int{9, 12, 15})
			gen.Y = []int{3, 0, 1} // wrong labels: a gradient unlike the real one
			if c.weighted {
				real.W = []float32{1, 0.5, 2, 0, 1}
				gen.W = []float32{0.25, 3, 1}
			}
			lr, gr, _ := m.FlatGrad(real.X, real.Y, real.W, nil)
			lg, gg, _ := m.FlatGrad(gen.X, gen.Y, gen.W, nil)
			u := Concat(real, gen)
			lu, gu, err := m.FlatGrad(u.X, u.Y, u.W, nil)
			if err != nil {
				t.Fatal(err)
			}
			lc, gc := Combine(lr, gr, Mass(real), lg, gg, Mass(gen))
			if math.Abs(lc-lu) > 1e-5*math.Abs(lu) {
				t.Errorf("combined loss %v, union loss %v", lc, lu)
			}
			var scale, worst float64
			for i := range gu {
				scale = math.Max(scale, math.Abs(float64(gu[i])))
				worst = math.Max(worst, math.Abs(float64(gu[i]-gc[i])))
			}
			if worst > 1e-5*scale {
				t.Errorf("combined gradient differs from the union's by %v (max |g| %v)", worst, scale)
			}
			// The parts really differ, so the weighting matters.
			if d := math.Abs(lr - lg); d < 1e-3 {
				t.Fatalf("real and generated losses too close (%v, %v) for the check to mean anything", lr, lg)
			}
		})
	}
}

// quantile is numpy's linear quantile, written out independently.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	h := float64(len(s)-1) * q
	lo := int(h)
	if lo+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
}

// replay re-runs the train loop by hand for mode bsgal or lookahead, from
// the formulas of docs/architecture.md, The method, training on a direct
// pass over the union when accepting, and returns the decisions it makes.
// With real_grad matched the cache follows, per generated item in order,
// one real training image of its label (a category drawn from the item's
// one, then an image, from the "realgrad" stream), the first real_grad_n
// of them.
func replay(t *testing.T, p Params, trainDir string, pools []string) []decisionRow {
	t.Helper()
	ds, _, err := loadDataset(trainDir)
	if err != nil {
		t.Fatal(err)
	}
	model, err := nn.New(nn.Config{Arch: p.Arch, Classes: len(ds.Classes), H: ds.H, W: ds.W, Hidden: p.Hidden, Seed: p.Seed})
	if err != nil {
		t.Fatal(err)
	}
	sampler, _ := learn.NewSampler(ds, p.Sampling, p.Seed)
	pool, err := format.LoadPools(pools)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, pool.N())
	for i := range all {
		all[i] = i
	}
	ps := newPoolSampler(pool, all, p.Select.Draw, p.Seed)
	probe := learn.UniformSampler(ds.N, rand.New(rand.NewPCG(p.Seed, 0x70726f6265)))
	match := rand.New(rand.NewPCG(p.Seed, 0x7265616c67726164))
	opt := &nn.SGD{Momentum: p.Momentum, WeightDecay: p.WeightDecay}
	sp := p.Select
	var cache []float64
	var window []float64
	var out []decisionRow
	for it := 0; it < p.Iterations; it++ {
		lr := nn.CosineLR(p.LR, p.Warmup, p.Iterations, it)
		real := ds.Batch(sampler.Next(p.BatchSize))
		gen := poolBatch(pool, ps.next(p.BatchSize))
		union := Concat(real, gen)
		_, gr, _ := model.FlatGrad(real.X, real.Y, nil, nil)
		_, gu, _ := model.FlatGrad(union.X, union.Y, nil, nil)
		var d decisionRow
		switch sp.Mode {
		case ModeBSGAL:
			gc := gr
			if sp.RealGrad == RealGradMatched {
				var idx []int
				for _, c := range gen.Y {
					if len(idx) == sp.RealGradN || len(ds.ByClass[c]) == 0 {
						continue
					}
					_ = match.IntN(1) // the category, drawn among the item's one
					idx = append(idx, ds.ByClass[c][match.IntN(len(ds.ByClass[c]))])
				}
				mb := ds.Batch(idx)
				_, gc, _ = model.FlatGrad(mb.X, mb.Y, nil, nil)
			}
			switch {
			case cache == nil:
				cache = make([]float64, len(gc))
				for i, v := range gc {
					cache[i] = float64(v)
				}
			case sp.Cache == "momentum":
				for i, v := range gc {
					cache[i] = sp.M*cache[i] + (1-sp.M)*float64(v)
				}
			default: // average over it+1 gradients
				for i, v := range gc {
					cache[i] = (float64(it)*cache[i] + float64(v)) / float64(it+1)
				}
			}
			_, gg, _ := model.FlatGrad(gen.X, gen.Y, nil, nil)
			var dot, cc, ggn float64
			for i := range gg {
				c32 := float64(float32(cache[i]))
				dot += c32 * float64(gg[i])
				cc += c32 * c32
				ggn += float64(gg[i]) * float64(gg[i])
			}
			d.score = dot
			if sp.Normalize {
				d.score = dot / (math.Sqrt(cc)*math.Sqrt(ggn) + 1e-8)
			}
			rate := sp.Threshold.Rate
			if sp.Threshold.Type == ThresholdLinear {
				f := float64(it) / float64(p.Iterations-1)
				rate = sp.Threshold.R0*(1-f) + sp.Threshold.R1*f
			}
			switch {
			case sp.Threshold.Type == ThresholdFixed:
				d.tau = sp.Threshold.Tau
			case len(window) == 0:
				d.tau = 0
			default:
				d.tau = quantile(window, 1-rate)
			}
			d.accepted = d.score >= d.tau
			window = append(window, d.score)
			if len(window) > sp.Threshold.Window {
				window = window[1:]
			}
		case ModeLookahead:
			pb := ds.Batch(probe.Next(p.BatchSize))
			theta := model.FlatParams()
			lossAfter := func(g []float32) float64 {
				q := slices.Clone(theta)
				for i := range q {
					q[i] = float32(float64(q[i]) - lr*float64(g[i]))
				}
				model.SetFlatParams(q)
				l, _ := model.Forward(pb.X, pb.Y, nil)
				return l
			}
			with, without := lossAfter(gu), lossAfter(gr)
			model.SetFlatParams(theta)
			d.score, d.tau, d.accepted = without-with, 0, with < without
		}
		g := gr
		if d.accepted {
			g = gu
		}
		if err := model.Step(opt, g, lr); err != nil {
			t.Fatal(err)
		}
		d.it = it + 1
		out = append(out, d)
	}
	return out
}

// TestWiringAgainstReplay: the decisions train logs in modes bsgal (cosine
// and dot, momentum and average cache, dynamic and fixed threshold) and
// lookahead match a by-hand replay of the method.
func TestWiringAgainstReplay(t *testing.T) {
	trainDir := writeClassification(t, 40, 11)
	pools := []string{writePool(t, 40, 12, "clean", false), writePool(t, 40, 13, "shuffled", true)}
	for _, c := range []struct {
		name string
		edit func(*SelectParams)
	}{
		{"cosine-momentum-dynamic", func(s *SelectParams) { s.Threshold.Rate = 0.4; s.Threshold.Window = 5 }},
		{"real-grad-batch", func(s *SelectParams) { s.RealGrad = RealGradBatch; s.Threshold.Rate = 0.4; s.Threshold.Window = 5 }},
		{"real-grad-matched-2", func(s *SelectParams) { s.RealGradN = 2 }},
		{"dot-average-fixed", func(s *SelectParams) {
			s.Normalize, s.Cache, s.Threshold = false, "average", ThresholdParams{Type: ThresholdFixed, Tau: 0.01}
		}},
		{"momentum-0.5-mixed", func(s *SelectParams) { s.M, s.Draw = 0.5, DrawMixed }},
		{"linear-0.2-to-0.9", func(s *SelectParams) {
			s.Threshold = ThresholdParams{Type: ThresholdLinear, R0: 0.2, R1: 0.9, Window: 1000}
		}},
		{"lookahead", func(s *SelectParams) { s.Mode = ModeLookahead }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := smallParams(ModeBSGAL, 16)
			c.edit(&p.Select)
			env := poolEnv(t, trainDir, pools...)
			if err := run(t, p, env, nil); err != nil {
				t.Fatal(err)
			}
			got, want := readDecisions(t, env.OutDir), replay(t, p, trainDir, pools)
			if len(got) != len(want) {
				t.Fatalf("%d decisions logged, replay made %d", len(got), len(want))
			}
			var acc, rej int
			for i := range want {
				g, w := got[i], want[i]
				tol := 1e-4 * math.Max(1, math.Abs(w.score))
				if g.it != w.it || math.Abs(g.score-w.score) > tol || math.Abs(g.tau-w.tau) > tol {
					t.Errorf("iteration %d: logged score %v tau %v, replay %v %v", w.it, g.score, g.tau, w.score, w.tau)
				}
				if g.accepted != w.accepted && math.Abs(w.score-w.tau) > tol {
					t.Errorf("iteration %d: logged accepted=%v, replay %v", w.it, g.accepted, w.accepted)
				}
				if g.accepted {
					acc++
				} else {
					rej++
				}
			}
			if acc == 0 || rej == 0 {
				t.Errorf("%d accepted, %d rejected: the check needs both", acc, rej)
			}
			m := readMetrics(t, env.OutDir)
			if m.Proposed != len(got) || m.Accepted != acc || *m.AcceptRate != float64(acc)/float64(len(got)) {
				t.Errorf("metrics proposed %d accepted %d rate %v, log has %d of %d", m.Proposed, m.Accepted, *m.AcceptRate, acc, len(got))
			}
		})
	}
}

// TestDeterministicWithPool: bsgal and lookahead runs are byte-identical
// for equal params; another seed changes the decisions.
func TestDeterministicWithPool(t *testing.T) {
	trainDir := writeClassification(t, 24, 61)
	pools := []string{writePool(t, 16, 62, "a", false), writePool(t, 16, 63, "b", true)}
	for _, mode := range []string{ModeBSGAL, ModeLookahead} {
		var outs []map[string][]byte
		for _, seed := range []uint64{1, 1, 2} {
			p := smallParams(mode, 10)
			p.Seed = seed
			env := poolEnv(t, trainDir, pools...)
			if err := run(t, p, env, nil); err != nil {
				t.Fatal(err)
			}
			outs = append(outs, outputs(t, env.OutDir))
		}
		for name, b := range outs[0] {
			if string(b) != string(outs[1][name]) {
				t.Errorf("%s: %s differs between equal runs", mode, name)
			}
		}
		if string(outs[0][format.DecisionsFile]) == string(outs[2][format.DecisionsFile]) {
			t.Errorf("%s: another seed logged the same decisions", mode)
		}
	}
}

// TestRandomMode: random accepts about rate of the batches, and rate 0
// trains exactly as real-only training does.
func TestRandomMode(t *testing.T) {
	trainDir := writeClassification(t, 32, 21)
	pool := writePool(t, 32, 22, "g", false)
	p := smallParams(ModeRandom, 300)
	p.Select.Rate = 0.3
	env := poolEnv(t, trainDir, pool)
	if err := run(t, p, env, nil); err != nil {
		t.Fatal(err)
	}
	m := readMetrics(t, env.OutDir)
	if m.Proposed != 300 || math.Abs(*m.AcceptRate-0.3) > 0.07 {
		t.Errorf("random at 0.3: %d proposed, rate %v", m.Proposed, *m.AcceptRate)
	}
	p.Iterations = 20
	p.Select.Rate = 0
	envZero := poolEnv(t, trainDir, pool)
	if err := run(t, p, envZero, nil); err != nil {
		t.Fatal(err)
	}
	p.Select.Mode = ModeNone
	envNone := poolEnv(t, trainDir, pool)
	if err := run(t, p, envNone, nil); err != nil {
		t.Fatal(err)
	}
	a, b := outputs(t, envZero.OutDir), outputs(t, envNone.OutDir)
	for name, want := range b {
		if (name == "loss.csv" || strings.HasPrefix(name, "model")) && string(a[name]) != string(want) {
			t.Errorf("%s: random at rate 0 did not train like mode none", name)
		}
	}
	if got := len(readDecisions(t, envNone.OutDir)); got != 0 {
		t.Errorf("mode none logged %d decisions", got)
	}
	if mn := readMetrics(t, envNone.OutDir); mn.AcceptRate != nil || mn.Select != "none" {
		t.Errorf("mode none metrics %+v", mn)
	}
}

// writeScores writes a score node's output for a pool of n items.
func writeScores(t *testing.T, scores []float64, accepted []int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := format.SaveScores(dir, scores, accepted); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFilterAndOffline: both draw only the items their scores keep; the
// per-source and per-group acceptance rates agree with the decision log.
func TestFilterAndOffline(t *testing.T) {
	trainDir := withGroups(t, writeClassification(t, 32, 31))
	pools := []string{writePool(t, 20, 32, "keep", false), writePool(t, 20, 33, "drop", true)}
	scores := make([]float64, 40)
	var accepted []int64
	for i := range scores {
		scores[i] = -1
		if i < 20 {
			scores[i] = 1
			accepted = append(accepted, int64(i))
		}
	}
	scoreDir := writeScores(t, scores, accepted)
	for _, mode := range []string{ModeFilter, ModeOffline} {
		t.Run(mode, func(t *testing.T) {
			p := smallParams(mode, 12)
			p.Select.Tau, p.Select.Draw = 0, DrawMixed
			env := poolEnv(t, trainDir, pools...)
			env.Inputs["scores"] = []string{scoreDir}
			if err := run(t, p, env, nil); err != nil {
				t.Fatal(err)
			}
			for _, d := range readDecisions(t, env.OutDir) {
				if len(d.sources) != 1 || d.sources["keep"] != p.BatchSize || !d.accepted {
					t.Errorf("iteration %d drew sources %v (accepted %v), want only kept items", d.it, d.sources, d.accepted)
				}
			}
			// The rates are those of the preselection: all of "keep", none
			// of "drop", half of the pool.
			m := readMetrics(t, env.OutDir)
			if m.AcceptBySource["keep"] != 1 || m.AcceptBySource["drop"] != 0 || *m.AcceptRate != 0.5 || m.Accepted != m.Proposed {
				t.Errorf("accept rate %v by source %v, %d of %d batches", *m.AcceptRate, m.AcceptBySource, m.Accepted, m.Proposed)
			}
		})
	}
	// Random acceptance: the per-source and per-group rates are recounted
	// from the log.
	p := smallParams(ModeRandom, 60)
	env := poolEnv(t, trainDir, pools...)
	if err := run(t, p, env, nil); err != nil {
		t.Fatal(err)
	}
	groups := map[string]string{"a": "rare", "b": "common", "c": "frequent", "d": "frequent"}
	seen, acc := map[string]float64{}, map[string]float64{}
	for _, d := range readDecisions(t, env.OutDir) {
		if len(d.sources) != 1 {
			t.Errorf("draw pool mixed sources %v in one batch", d.sources)
		}
		for k, n := range d.sources {
			seen["s:"+k] += float64(n)
			if d.accepted {
				acc["s:"+k] += float64(n)
			}
		}
		for k, n := range d.categories {
			seen["g:"+groups[k]] += float64(n)
			if d.accepted {
				acc["g:"+groups[k]] += float64(n)
			}
		}
	}
	m := readMetrics(t, env.OutDir)
	for k, n := range seen {
		got := m.AcceptBySource[k[2:]]
		if k[0] == 'g' {
			got = m.AcceptByGroup[k[2:]]
		}
		if math.Abs(got-acc[k]/n) > 1e-12 {
			t.Errorf("%s: metrics rate %v, log gives %v", k, got, acc[k]/n)
		}
	}
	if len(m.AcceptByGroup) != 3 || len(m.AcceptBySource) != 2 {
		t.Errorf("rates by group %v, by source %v", m.AcceptByGroup, m.AcceptBySource)
	}
}

// TestSelectErrors: bad select blocks and missing inputs are reported.
func TestSelectErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*SelectParams)
		want string
	}{
		{func(s *SelectParams) { s.Mode = "clip" }, `mode "clip"`},
		{func(s *SelectParams) { s.Draw = "any" }, `draw "any"`},
		{func(s *SelectParams) { s.Rate = 2 }, "rate 2"},
		{func(s *SelectParams) { s.Cache = "ema" }, `"ema"`},
		{func(s *SelectParams) { s.M = 1 }, "momentum 1"},
		{func(s *SelectParams) { s.Threshold.Type = "otsu" }, `type "otsu"`},
		{func(s *SelectParams) { s.Threshold.Window = 0 }, "window 0"},
	} {
		p := DefaultParams()
		c.edit(&p.Select)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want it to mention %q", err, c.want)
		}
	}
	trainDir := writeClassification(t, 8, 41)
	for _, c := range []struct {
		mode, want string
		pool       bool
	}{
		{ModeBSGAL, "needs a pool input", false},
		{ModeOffline, "needs a scores input", true},
	} {
		p := smallParams(c.mode, 2)
		env, _ := newEnv(t, trainDir, "")
		if c.pool {
			env.Inputs["pool"] = []string{writePool(t, 8, 42, "g", false)}
		}
		if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("mode %s: err = %v, want %q", c.mode, err, c.want)
		}
	}
	p := smallParams(ModeBSGAL, 2)
	p.Select.Subset = []string{"nope"}
	env := poolEnv(t, trainDir, writePool(t, 8, 43, "g", false))
	if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), `unknown parameter "nope"`) {
		t.Errorf("bad subset: err = %v", err)
	}
}

// TestFirstOrder: on a real network, for a small step α, the measured
// change of the real loss after one SGD step on a generated batch,
// L_R(θ) − L_R(θ − α∇ℓ_g), correlates above 0.9 with α·⟨∇L_R, ∇ℓ_g⟩ over
// 60 generated batches, and matches it in scale.
func TestFirstOrder(t *testing.T) {
	ds, _, err := loadDataset(writeClassification(t, 64, 51))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := format.LoadPools([]string{writePool(t, 64, 52, "clean", false), writePool(t, 64, 53, "shuffled", true)})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.New(nn.Config{Arch: nn.ArchCNN, Classes: 4, H: 8, W: 8, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	// A few real steps first, so θ is not at its initialization.
	all := make([]int, ds.N)
	for i := range all {
		all[i] = i
	}
	realAll := ds.Batch(all)
	opt := &nn.SGD{}
	for range 10 {
		_, g, _ := m.FlatGrad(realAll.X, realAll.Y, nil, nil)
		m.Step(opt, g, 0.05)
	}
	const alpha = 2e-3
	lR, gR, err := m.FlatGrad(realAll.X, realAll.Y, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	theta := m.FlatParams()
	rng := rand.New(rand.NewPCG(54, 0))
	var pred, meas []float64
	for range 60 {
		idx := make([]int, 8)
		for k := range idx {
			idx[k] = rng.IntN(pool.N())
		}
		g := poolBatch(pool, idx)
		_, gg, err := m.FlatGrad(g.X, g.Y, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		moved := slices.Clone(theta)
		var dot float64
		for i := range moved {
			moved[i] -= float32(alpha * float64(gg[i]))
			dot += float64(gR[i]) * float64(gg[i])
		}
		m.SetFlatParams(moved)
		after, err := m.Forward(realAll.X, realAll.Y, nil)
		if err != nil {
			t.Fatal(err)
		}
		m.SetFlatParams(theta)
		pred = append(pred, alpha*dot)
		meas = append(meas, lR-after)
	}
	r := pearson(pred, meas)
	var slopeNum, slopeDen float64
	for i := range pred {
		slopeNum += pred[i] * meas[i]
		slopeDen += pred[i] * pred[i]
	}
	slope := slopeNum / slopeDen
	t.Logf("first order: correlation %.4f, least-squares slope %.3f over %d batches", r, slope, len(pred))
	if r < 0.9 {
		t.Errorf("correlation %v between measured and predicted loss change, want > 0.9", r)
	}
	if slope < 0.8 || slope > 1.2 {
		t.Errorf("measured/predicted slope %v, want about 1", slope)
	}
	neg := 0
	for _, p := range pred {
		if p < 0 {
			neg++
		}
	}
	if neg == 0 || neg == len(pred) {
		t.Errorf("%d of %d predictions negative: the batches should both help and hurt", neg, len(pred))
	}
}

func pearson(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// TestBSGALSegReusesForward: in segmentation an accepted proposal trains
// on the scored scenes with every pixel, through nn.ReGrad on the split
// pass's activations; the loss and gradient must be bit for bit those of a
// fresh pass over prop.Train, with real_grad matched and batch, accepting
// and rejecting, while the model trains.
func TestBSGALSegReusesForward(t *testing.T) {
	cfg := nn.Config{Arch: nn.ArchFCN, Classes: 20, H: 32, W: 32, Channels: []int{4, 6}, Seed: 3}
	for _, realGrad := range []string{RealGradMatched, RealGradBatch} {
		for _, tau := range []float64{-2, 2} { // the cosine is in [-1, 1]: accept all, reject all
			ds, inst, sizes := segBenchData(24)
			ps, err := newPaster(PasteParams{MaxPaste: 3, MinSide: 2, Flip: 0.5}, inst, nil, ds, sizes, DrawPool, 1)
			if err != nil {
				t.Fatal(err)
			}
			model, err := nn.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			twin, err := nn.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			sp := DefaultSelectParams()
			sp.Mode, sp.RealGrad = ModeBSGAL, realGrad
			sp.Threshold = ThresholdParams{Type: ThresholdFixed, Tau: tau}
			sel, err := newSelection(sp, ps, model, ds, 10, 1)
			if err != nil {
				t.Fatal(err)
			}
			sampler, _ := learn.NewSampler(ds, "uniform", 1)
			opt := &nn.SGD{Momentum: 0.9}
			for it := range 4 {
				real := ds.Batch(sampler.Next(6))
				res, err := sel.step(t.Context(), Step{It: it, Iterations: 10, LR: 0.05, Model: model}, real)
				if err != nil {
					t.Fatal(err)
				}
				if !res.proposed || res.prop.Train == nil || res.dec.Accepted != (tau < 0) {
					t.Fatalf("%s tau %v it %d: proposed %v, accepted %v", realGrad, tau, it, res.proposed, res.dec.Accepted)
				}
				if err := twin.SetFlatParams(model.FlatParams()); err != nil {
					t.Fatal(err)
				}
				b := real
				if res.dec.Accepted {
					b = *res.prop.Train
				}
				wl, wg, err := twin.FlatGrad(b.X, b.Y, b.W, nil)
				if err != nil {
					t.Fatal(err)
				}
				if math.Float64bits(res.loss) != math.Float64bits(wl) {
					t.Errorf("%s tau %v it %d: loss %v, a fresh pass's %v", realGrad, tau, it, res.loss, wl)
				}
				for i := range wg {
					if math.Float32bits(res.grad[i]) != math.Float32bits(wg[i]) {
						t.Fatalf("%s tau %v it %d: gradient %d is %v, a fresh pass's %v", realGrad, tau, it, i, res.grad[i], wg[i])
					}
				}
				if err := model.Step(opt, res.grad, 0.05); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// TestBSGALSubsetTruncated: scored on a subset with real_grad matched, the
// split pass stops its backward pass at the subset's earliest layer
// (nn.SplitGradSubset); the scores, decisions and gradients trained on
// must be bit for bit those of the whole pass restricted to the subset,
// recomputed here on a twin model, matcher and cache.
func TestBSGALSubsetTruncated(t *testing.T) {
	seg := nn.Config{Arch: nn.ArchFCN, Classes: 20, H: 32, W: 32, Channels: []int{4, 6}, Seed: 3}
	for _, subset := range [][]string{{"head.weight", "head.bias"}, {"conv4.weight", "conv4.bias", "head.weight"}} {
		ds, inst, sizes := segBenchData(24)
		ps, err := newPaster(PasteParams{MaxPaste: 3, MinSide: 2, Flip: 0.5}, inst, nil, ds, sizes, DrawPool, 1)
		if err != nil {
			t.Fatal(err)
		}
		model, err := nn.New(seg)
		if err != nil {
			t.Fatal(err)
		}
		twin, err := nn.New(seg)
		if err != nil {
			t.Fatal(err)
		}
		sp := DefaultSelectParams()
		sp.Mode, sp.Subset = ModeBSGAL, subset
		sp.Threshold = ThresholdParams{Type: ThresholdDynamic, Rate: 0.5, Window: 4}
		sel, err := newSelection(sp, ps, model, ds, 12, 1)
		if err != nil {
			t.Fatal(err)
		}
		ranges, err := subsetRanges(twin, subset)
		if err != nil {
			t.Fatal(err)
		}
		mt := newMatcher(ds, sp.RealGradN, 1)
		cache, _ := bsgal.NewGradCache(bsgal.CacheMode(sp.Cache), sp.M)
		sampler, _ := learn.NewSampler(ds, "uniform", 1)
		opt := &nn.SGD{Momentum: 0.9}
		var accepted int
		for it := range 8 {
			real := ds.Batch(sampler.Next(6))
			res, err := sel.step(t.Context(), Step{It: it, Iterations: 12, LR: 0.05, Model: model}, real)
			if err != nil {
				t.Fatal(err)
			}
			if err := twin.SetFlatParams(model.FlatParams()); err != nil {
				t.Fatal(err)
			}
			ref, matched := mt.batch(real, res.prop)
			if !matched {
				t.Fatal("bench data has nothing to match")
			}
			_, gr, _, gg, err := twin.SplitGrad(ref.X, ref.Y, ref.W, res.prop.Gen.X, res.prop.Gen.Y, res.prop.Gen.W)
			if err != nil {
				t.Fatal(err)
			}
			var b1, b2 []float32
			score, err := cache.UpdateScore(gather(gr, ranges, &b1), gather(gg, ranges, &b2), true)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(res.dec.Score) != math.Float64bits(score) {
				t.Fatalf("%v it %d: score %v, the whole pass's %v", subset, it, res.dec.Score, score)
			}
			b := real
			if res.dec.Accepted {
				b = *res.prop.Train
				accepted++
			}
			wl, wg, err := twin.FlatGrad(b.X, b.Y, b.W, nil)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(res.loss) != math.Float64bits(wl) || !slices.Equal(res.grad, wg) {
				t.Fatalf("%v it %d: the gradient trained on differs from a fresh pass's", subset, it)
			}
			if err := model.Step(opt, res.grad, 0.05); err != nil {
				t.Fatal(err)
			}
		}
		if accepted == 0 || accepted == 8 {
			t.Errorf("%v: %d of 8 accepted: both branches not exercised", subset, accepted)
		}
	}
}
