package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"dagrun/format"
	"dagrun/lib/bsgal"
	"dagrun/lib/learn"
	"dagrun/lib/nn"
)

// Selection modes (SelectParams.Mode).
const (
	ModeNone      = "none"      // real data only
	ModeAll       = "all"       // accept every generated batch (X-Paste)
	ModeRandom    = "random"    // accept with probability rate, seeded
	ModeFilter    = "filter"    // draw only items whose precomputed score >= tau
	ModeOffline   = "offline"   // draw only items a score node accepted
	ModeBSGAL     = "bsgal"     // online gradient score against the cached real gradient
	ModeLookahead = "lookahead" // loss estimate: one SGD step with and without, on a real probe
)

// Threshold types (ThresholdParams.Type).
const (
	ThresholdFixed   = "fixed"
	ThresholdDynamic = "dynamic"
	ThresholdLinear  = "linear"
)

// ThresholdParams picks BSGAL's threshold (see bsgal.Fixed, bsgal.Dynamic,
// bsgal.Linear).
type ThresholdParams struct {
	Type   string  `yaml:"type" json:"type" doc:"bsgal: the threshold τ a score must reach: fixed (tau), dynamic (accept about a fraction rate) or linear (a rate going from r0 to r1 over the run)"`
	Tau    float64 `yaml:"tau" json:"tau" doc:"bsgal, type fixed: τ itself (default -0.05, for the cosine score)"`
	Rate   float64 `yaml:"rate" json:"rate" doc:"bsgal, type dynamic: acceptance rate r in [0, 1]; τ is the (1-r) quantile of the last window scores (0 before the first)"`
	R0     float64 `yaml:"r0" json:"r0" doc:"bsgal, type linear: acceptance rate at the first iteration, in [0, 1]"`
	R1     float64 `yaml:"r1" json:"r1" doc:"bsgal, type linear: acceptance rate at the last iteration, in [0, 1] (may be below r0)"`
	Window int     `yaml:"window" json:"window" doc:"bsgal, types dynamic and linear: W, the number of most recent scores whose quantile is τ (at least 1)"`
}

// SelectParams is the train kind's `select:` block: how generated data from
// the pool input enters the loop. Fields a mode does not use are ignored.
type SelectParams struct {
	Mode  string  `yaml:"mode" json:"mode" doc:"none (real data only), all (train on every generated batch), random (accept with probability rate), filter (draw only items scoring at least tau in the scores input), offline (draw only items a score node accepted), bsgal (accept when the generated batch's gradient scores at least the threshold against the cached real gradient) or lookahead (accept when one plain SGD step with the generated part leaves a lower loss on a real probe batch than one without)"`
	Batch int     `yaml:"batch" json:"batch" doc:"classification: generated items drawn per iteration (0: batch_size); with instance paste the scenes are the real batch"`
	Draw  string  `yaml:"draw" json:"draw" doc:"pool (each iteration's generated part from one pool dir, chosen uniformly, so acceptance per source is meaningful) or mixed (from all pool dirs at once)"`
	Rate  float64 `yaml:"rate" json:"rate" doc:"random: acceptance probability in [0, 1]"`
	Tau   float64 `yaml:"tau" json:"tau" doc:"filter: the per-item score (scores input) an item needs to be drawn"`
	// Normalize, Cache, M, Subset and Threshold apply to mode bsgal.
	Normalize bool            `yaml:"normalize" json:"normalize" doc:"bsgal: score by the cosine (true) or the dot product (false) of the generated and cached real gradients"`
	Cache     string          `yaml:"cache" json:"cache" doc:"bsgal: how the cached real gradient follows each real batch's: momentum (c ← m·c + (1-m)·g) or average (running mean); the first batch sets it"`
	M         float64         `yaml:"m" json:"m" doc:"bsgal, cache momentum: m in [0, 1), the weight of the old cache"`
	Subset    []string        `yaml:"subset" json:"subset,omitempty" doc:"bsgal: score on the gradient of these model parameters only, named like conv1.weight or fc.bias (empty: all); training always uses the full gradient. With real_grad matched the scoring pass's backward stops at the earliest of them, so scoring on the last layers costs little more than the forward pass; the score then approximates the one on all parameters (go test ./nodes/train -bench SubsetScore measures the agreement)"`
	Threshold ThresholdParams `yaml:"threshold" json:"threshold"`
	// RealGrad and RealGradN: which real images the cached gradient
	// follows (realgrad.go).
	RealGrad  string `yaml:"real_grad" json:"real_grad" doc:"bsgal: the real images whose gradient updates the cache: matched (the reference's: for each image of the batch one real training image, as stored, showing a category drawn uniformly from those pasted into it, or from its own labels when nothing was pasted; classification: for each generated item one real training image of its label; the first real_grad_n of them, seeded) or batch (the iteration's real batch itself)"`
	RealGradN int    `yaml:"real_grad_n" json:"real_grad_n" doc:"bsgal, real_grad matched: the number of matched real images whose gradient updates the cache (the reference's 4); at least 1"`
	// Probe: the probe batch is drawn from its own seeded stream, apart
	// from the training batch: measured on the training batch itself, the
	// plain step would nearly always win, since it descends exactly that
	// batch's loss.
	Probe int `yaml:"probe" json:"probe" doc:"lookahead: real images (drawn from their own seeded stream) on which the two one-step losses are compared (0: batch_size)"`
	// ItemScores is a probe for reports: it changes no decision.
	ItemScores bool `yaml:"item_scores" json:"item_scores,omitempty" doc:"bsgal, classification pools: also score each generated item alone (its own gradient against the cached real gradient the decision used) into item_scores.csv, a per-item probe of the online score for reports; decisions, training and every other output are unchanged"`
}

// DefaultSelectParams is real-only training with BSGAL's reference settings
// ready for mode bsgal: cosine score, momentum cache with m = 0.1, dynamic
// threshold at rate 0.5 over W = 1000.
func DefaultSelectParams() SelectParams {
	return SelectParams{
		Mode: ModeNone, Draw: DrawPool, Rate: 0.5, Normalize: true, Cache: string(bsgal.Momentum), M: bsgal.ReferenceMomentum,
		RealGrad: RealGradMatched, RealGradN: 4,
		Threshold: ThresholdParams{Type: ThresholdDynamic, Tau: bsgal.ReferenceFixedTau, Rate: 0.5, R0: 0.5, R1: 0.5, Window: bsgal.DefaultWindow},
	}
}

// Validate checks the block's values.
func (s SelectParams) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf("select: "+format, a...)) }
	switch s.Mode {
	case ModeNone, ModeAll, ModeRandom, ModeFilter, ModeOffline, ModeBSGAL, ModeLookahead:
	default:
		add("mode %q: want none, all, random, filter, offline, bsgal or lookahead", s.Mode)
	}
	if s.Draw != DrawPool && s.Draw != DrawMixed {
		add("draw %q: want pool or mixed", s.Draw)
	}
	if s.Batch < 0 || s.Probe < 0 {
		add("batch %d and probe %d must not be negative", s.Batch, s.Probe)
	}
	if !(s.Rate >= 0 && s.Rate <= 1) {
		add("rate %v must be in [0, 1]", s.Rate)
	}
	if math.IsNaN(s.Tau) {
		add("tau must be a number")
	}
	if _, err := bsgal.NewGradCache(bsgal.CacheMode(s.Cache), s.M); err != nil {
		add("cache: %v", err)
	}
	if _, err := s.Threshold.build(1); err != nil {
		add("threshold: %v", err)
	}
	if s.RealGrad != RealGradMatched && s.RealGrad != RealGradBatch {
		add("real_grad %q: want matched or batch", s.RealGrad)
	}
	if s.RealGradN < 1 {
		add("real_grad_n %d must be at least 1", s.RealGradN)
	}
	return errors.Join(errs...)
}

// build returns the threshold for a run of total iterations.
func (t ThresholdParams) build(total int) (bsgal.Threshold, error) {
	switch t.Type {
	case ThresholdFixed:
		if math.IsNaN(t.Tau) {
			return nil, errors.New("fixed tau must be a number")
		}
		return bsgal.Fixed(t.Tau), nil
	case ThresholdDynamic:
		return bsgal.NewDynamic(t.Rate, t.Window)
	case ThresholdLinear:
		return bsgal.NewLinear(t.R0, t.R1, total, t.Window)
	}
	return nil, fmt.Errorf("type %q: want fixed, dynamic or linear", t.Type)
}

// probesItems reports whether the run writes item_scores.csv: mode bsgal
// with item_scores.
func (s SelectParams) probesItems() bool { return s.Mode == ModeBSGAL && s.ItemScores }

// usesPool reports whether a mode draws generated data.
func (s SelectParams) usesPool() bool { return s.Mode != ModeNone }

// Proposal is the generated part of one iteration.
type Proposal struct {
	// Gen is the batch whose loss gradient scores the generated part: for
	// classification the generated images alone; for segmentation the
	// pasted scenes with W selecting the pasted pixels only.
	Gen learn.Batch
	// Train, when not nil, is the batch to train on if the proposal is
	// accepted (segmentation: the pasted scenes with all their pixels). Nil
	// means the disjoint union of the real batch and Gen, whose mean loss
	// and gradient are the mass-weighted averages of theirs (see Combine),
	// so no further pass is needed.
	Train *learn.Batch
	// Sources and Categories name the generator and the category of each
	// generated item, for the decision log and the acceptance rates.
	Sources, Categories []string
	// Items, when not nil, holds the pool index of each generated item
	// (in the order of Sources), so that the gallery output can draw the
	// items a proposer that implements itemDrawer proposed.
	Items []int
	// PoolItems, when not nil, holds the pool identity of each generated
	// item (in the order of Sources; see format.GalleryHeader's
	// pool_item), which decisions.csv and the gallery record so that a
	// report can join decisions with a pool's truth.
	PoolItems []int
	// Images, when not nil, holds for each generated item (in the order of
	// Sources) the position in the real batch of the scene it was pasted
	// into (segmentation); the matched real gradient (select.real_grad)
	// reads it.
	Images []int
}

// Proposer is the seam through which generated data enters the loop: each
// iteration it receives the real batch just drawn and proposes a generated
// part, which the selection mode then accepts or rejects. The real batch is
// always trained on. A Proposer runs on the training goroutine in iteration
// order and must be deterministic given its own seeded state.
type Proposer interface {
	// Propose returns the generated part for this iteration, or ok false
	// when there is nothing to propose (the iteration trains on the real
	// batch alone and logs no score).
	Propose(ctx context.Context, s Step, real learn.Batch) (p Proposal, ok bool, err error)
}

// poolProposer is the classification Proposer: it draws generated images
// from a pool and offers them beside the real batch.
type poolProposer struct {
	pool    *format.Pools
	sampler *poolSampler // nil: nothing eligible
	n       int
}

func (p *poolProposer) Propose(_ context.Context, _ Step, _ learn.Batch) (Proposal, bool, error) {
	if p.sampler == nil {
		return Proposal{}, false, nil
	}
	idx := p.sampler.next(p.n)
	pr := Proposal{Gen: poolBatch(p.pool, idx), Sources: make([]string, len(idx)), Categories: make([]string, len(idx)), Items: idx, PoolItems: idx}
	for k, i := range idx {
		pr.Sources[k] = p.pool.Sources[p.pool.Source[i]]
		pr.Categories[k] = p.pool.Classes[p.pool.Labels[i]]
	}
	return pr, true, nil
}

// Mass is the total label weight of a batch: the sum of W, or the number of
// labels when W is nil. A batch's loss is its weighted sum divided by its
// mass.
func Mass(b learn.Batch) float64 {
	if b.W == nil {
		return float64(len(b.Y))
	}
	var s float64
	for _, w := range b.W {
		s += float64(w)
	}
	return s
}

// Combine returns the mean loss and gradient of the disjoint union of two
// batches from theirs: since each loss is a weighted sum over its labels
// divided by its mass, the union's is (ma·a + mb·b)/(ma+mb), and so is its
// gradient. Sums are taken in float64.
func Combine(lossA float64, gradA []float32, massA float64, lossB float64, gradB []float32, massB float64) (float64, []float32) {
	return combineInto(make([]float32, len(gradA)), lossA, gradA, massA, lossB, gradB, massB)
}

// combineInto is Combine writing the gradient into out, which may be gradA
// or gradB.
func combineInto(out []float32, lossA float64, gradA []float32, massA float64, lossB float64, gradB []float32, massB float64) (float64, []float32) {
	t := massA + massB
	if t == 0 {
		clear(out)
		return 0, out
	}
	wa, wb := massA/t, massB/t
	for i := range out {
		out[i] = float32(wa*float64(gradA[i]) + wb*float64(gradB[i]))
	}
	return wa*lossA + wb*lossB, out
}

// Concat returns the union of two batches (a's items first). When either
// has weights, the other's labels get weight 1.
func Concat(a, b learn.Batch) learn.Batch {
	out := learn.Batch{X: slices.Concat(a.X, b.X), Y: slices.Concat(a.Y, b.Y), Index: slices.Concat(a.Index, b.Index)}
	if a.W != nil || b.W != nil {
		out.W = slices.Concat(weightsOf(a), weightsOf(b))
	}
	return out
}

func weightsOf(b learn.Batch) []float32 {
	if b.W != nil {
		return b.W
	}
	w := make([]float32, len(b.Y))
	for i := range w {
		w[i] = 1
	}
	return w
}

// stepResult is what a selection yields for one iteration.
type stepResult struct {
	loss     float64
	grad     []float32
	proposed bool
	dec      bsgal.Decision
	prop     Proposal
	// items are the per-item probe scores (select.item_scores), in the
	// order of prop.PoolItems; nil without the probe.
	items []float64
}

// selection runs the chosen mode: per iteration it asks the proposer for a
// generated part, decides, and returns the gradient to train on.
type selection struct {
	p        SelectParams
	proposer Proposer // nil: real only
	rng      *rand.Rand
	cache    *bsgal.GradCache
	th       bsgal.Threshold
	ranges   [][2]int // subset ranges in the flat gradient; nil: all
	probe    learn.Sampler
	probeDS  *learn.Dataset
	match    *matcher  // bsgal with real_grad matched; nil: the real batch
	buf      []float32 // subset gather buffers
	bufG     []float32
	// gradA and gradB are the vectors the split pass writes its gradients
	// into, reused every iteration: the gradient an iteration trains on
	// may be one of them, and the training loop consumes it (Model.Step)
	// before the next step.
	gradA, gradB []float32
}

// newSelection prepares the mode's state for a run of total iterations.
func newSelection(p SelectParams, proposer Proposer, model *nn.Model, ds *learn.Dataset, total int, seed uint64) (*selection, error) {
	s := &selection{p: p, proposer: proposer, rng: rand.New(rand.NewPCG(seed, 0x72616e646f6d))} // "random"
	if p.Mode == ModeBSGAL {
		var err error
		if s.cache, err = bsgal.NewGradCache(bsgal.CacheMode(p.Cache), p.M); err != nil {
			return nil, err
		}
		if s.th, err = p.Threshold.build(total); err != nil {
			return nil, err
		}
		if s.ranges, err = subsetRanges(model, p.Subset); err != nil {
			return nil, err
		}
		if p.RealGrad == RealGradMatched {
			s.match = newMatcher(ds, p.RealGradN, seed)
		}
	}
	if p.Mode == ModeLookahead {
		s.probe = learn.UniformSampler(ds.N, rand.New(rand.NewPCG(seed, 0x70726f6265))) // "probe"
		s.probeDS = ds
	}
	return s, nil
}

// subsetRanges returns the [start, end) ranges of the named parameters in
// the flat vector, in model order, or nil for all of them.
func subsetRanges(model *nn.Model, names []string) ([][2]int, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out [][2]int
	at := 0
	found := map[string]bool{}
	for _, prm := range model.Params() {
		n := 1
		for _, d := range prm.Shape {
			n *= d
		}
		if slices.Contains(names, prm.Name) {
			out = append(out, [2]int{at, at + n})
			found[prm.Name] = true
		}
		at += n
	}
	for _, name := range names {
		if !found[name] {
			return nil, fmt.Errorf("subset: unknown parameter %q", name)
		}
	}
	return out, nil
}

// gather returns g restricted to the subset ranges, in buf.
func gather(g []float32, ranges [][2]int, buf *[]float32) []float32 {
	if ranges == nil {
		return g
	}
	out := (*buf)[:0]
	for _, r := range ranges {
		out = append(out, g[r[0]:r[1]]...)
	}
	*buf = out
	return out
}

// step yields this iteration's loss and training gradient.
func (s *selection) step(ctx context.Context, st Step, real learn.Batch) (stepResult, error) {
	m := st.Model
	var res stepResult
	if s.proposer == nil || !s.p.usesPool() {
		return s.plain(m, real, res)
	}
	prop, ok, err := s.proposer.Propose(ctx, st, real)
	if err != nil {
		return res, fmt.Errorf("propose: %w", err)
	}
	if !ok {
		return s.plain(m, real, res)
	}
	res.proposed, res.prop = true, prop
	switch s.p.Mode {
	case ModeAll, ModeFilter, ModeOffline:
		res.dec = bsgal.Decision{Score: math.NaN(), Tau: math.NaN(), Accepted: true}
		return s.train(m, real, prop, res, nil, 0, nil, 0, false)
	case ModeRandom:
		u := s.rng.Float64()
		res.dec = bsgal.Decision{Score: u, Tau: s.p.Rate, Accepted: u < s.p.Rate}
		return s.train(m, real, prop, res, nil, 0, nil, 0, false)
	case ModeBSGAL:
		// The cache follows the real batch, or with real_grad matched the
		// matched real images (then the real batch's own gradient, which
		// the update needs, is computed by train).
		ref, matched := real, false
		if s.match != nil {
			ref, matched = s.match.batch(real, prop)
		}
		// One pass over both batches gives both gradients (nn.SplitGrad),
		// bit for bit as two passes would. Scored on a subset with matched
		// real images, neither gradient is needed beyond the subset, and
		// the backward pass stops at its earliest layer
		// (nn.SplitGradSubset: the subset's gradients, the same bits).
		var lr, lg float64
		var gr, gg, sr, sg []float32 // the gradients, and their subsets scored
		if matched && s.ranges != nil {
			// train reads neither gradient: gr is not the real batch's.
			_, sr, lg, sg, err = m.SplitGradSubset(ref.X, ref.Y, ref.W, prop.Gen.X, prop.Gen.Y, prop.Gen.W, s.p.Subset)
		} else {
			lr, gr, lg, gg, err = m.SplitGradInto(s.gradA, s.gradB, ref.X, ref.Y, ref.W, prop.Gen.X, prop.Gen.Y, prop.Gen.W)
			s.gradA, s.gradB = gr, gg
			sr, sg = gather(gr, s.ranges, &s.buf), gather(gg, s.ranges, &s.bufG)
		}
		if err != nil {
			return res, fmt.Errorf("real and generated gradients: %w", err)
		}
		// The cache learns the current real gradient before the score (one
		// fused pass; the same bits as Update then Score).
		score, err := s.cache.UpdateScore(sr, sg, s.p.Normalize)
		if err != nil {
			return res, err
		}
		res.dec = bsgal.Decide(s.th, st.It, score)
		// The split pass's activations of prop.Gen are the model's last
		// pass unless the probe runs passes of its own.
		genPass := true
		if s.p.ItemScores {
			genPass = false
			if res.items, err = s.itemScores(m, prop.Gen); err != nil {
				return res, fmt.Errorf("item scores: %w", err)
			}
		}
		if matched {
			gr, lr = nil, 0
		}
		return s.train(m, real, prop, res, gr, lr, gg, lg, genPass)
	case ModeLookahead:
		return s.lookahead(st, real, prop, res)
	}
	return res, fmt.Errorf("mode %q takes no generated data", s.p.Mode)
}

// itemScores scores each image of a classification batch alone, by its
// own gradient against the cache's current vector (the one the batch's
// decision used). Gradients are computed afresh and the model is not
// changed, so the run's decisions and training are as without it.
func (s *selection) itemScores(m *nn.Model, gen learn.Batch) ([]float64, error) {
	n := len(gen.Y)
	if n == 0 || len(gen.X)%n != 0 {
		return nil, fmt.Errorf("a batch of %d pixels and %d labels is not one label per image (classification only)", len(gen.X), n)
	}
	hw := len(gen.X) / n
	ref := slices.Clone(s.cache.Vector())
	out := make([]float64, n)
	for j := range n {
		var w []float32
		if gen.W != nil {
			w = gen.W[j : j+1]
		}
		_, g, err := m.FlatGrad(gen.X[j*hw:(j+1)*hw], gen.Y[j:j+1], w, nil)
		if err != nil {
			return nil, err
		}
		out[j] = bsgal.Score(ref, gather(g, s.ranges, &s.bufG), s.p.Normalize)
	}
	return out, nil
}

// plain trains on the real batch alone.
func (s *selection) plain(m *nn.Model, real learn.Batch, res stepResult) (stepResult, error) {
	var err error
	res.loss, res.grad, err = m.FlatGrad(real.X, real.Y, real.W, nil)
	return res, err
}

// train forms the gradient of the decided batch, reusing the real (gr) and
// generated (gg) gradients when they are known. genPass reports that the
// model's last pass was a SplitGrad whose second batch was prop.Gen, whose
// activations ReGrad can then reuse.
func (s *selection) train(m *nn.Model, real learn.Batch, prop Proposal, res stepResult, gr []float32, lr float64, gg []float32, lg float64, genPass bool) (stepResult, error) {
	var err error
	switch {
	case !res.dec.Accepted && gr != nil:
		res.loss, res.grad = lr, gr
	case !res.dec.Accepted:
		return s.plain(m, real, res)
	case prop.Train != nil && genPass && sameSlice(prop.Train.X, prop.Gen.X):
		// The training batch is the scored one under other targets (the
		// pasted scenes with every pixel): only the loss and the backward
		// pass run again, bit for bit as FlatGrad.
		res.loss, res.grad, err = m.ReGrad(prop.Train.Y, prop.Train.W)
	case prop.Train != nil:
		t := prop.Train
		res.loss, res.grad, err = m.FlatGrad(t.X, t.Y, t.W, nil)
	case gr != nil && gg != nil:
		// gr is not needed after this iteration: mix into it.
		res.loss, res.grad = combineInto(gr, lr, gr, Mass(real), lg, gg, Mass(prop.Gen))
	default:
		u := Concat(real, prop.Gen)
		res.loss, res.grad, err = m.FlatGrad(u.X, u.Y, u.W, nil)
	}
	return res, err
}

// sameSlice reports whether a and b are the same non-empty slice (one
// backing array, same start and length).
func sameSlice(a, b []float32) bool {
	return len(a) > 0 && len(a) == len(b) && &a[0] == &b[0]
}

// lookahead takes one plain SGD step (θ − lr·g, no momentum or decay) on
// the batch with and without the generated part from the same weights,
// measures the real loss on a probe batch after each, restores the
// weights, and accepts the generated part if it gives the lower loss. The
// chosen gradient is then reused for the real update.
func (s *selection) lookahead(st Step, real learn.Batch, prop Proposal, res stepResult) (stepResult, error) {
	m := st.Model
	with := Concat(real, prop.Gen)
	if prop.Train != nil {
		with = *prop.Train
	}
	lw, gw, err := m.FlatGrad(with.X, with.Y, with.W, nil)
	if err != nil {
		return res, fmt.Errorf("look-ahead: %w", err)
	}
	lp, gp, err := m.FlatGrad(real.X, real.Y, real.W, nil)
	if err != nil {
		return res, fmt.Errorf("look-ahead: %w", err)
	}
	n := s.p.Probe
	if n == 0 {
		n = len(real.Index)
	}
	probe := s.probeDS.Batch(s.probe.Next(n))
	theta := m.FlatParams()
	after := func(g []float32) (float64, error) {
		moved := make([]float32, len(theta))
		for i, v := range theta {
			moved[i] = float32(float64(v) - st.LR*float64(g[i]))
		}
		if err := m.SetFlatParams(moved); err != nil {
			return 0, err
		}
		return m.Forward(probe.X, probe.Y, probe.W)
	}
	lossWith, err := after(gw)
	if err == nil {
		var lossPlain float64
		lossPlain, err = after(gp)
		res.dec = bsgal.LookAhead(lossWith, lossPlain)
	}
	if rerr := m.SetFlatParams(theta); rerr != nil && err == nil {
		err = rerr
	}
	if err != nil {
		return res, fmt.Errorf("look-ahead: %w", err)
	}
	if res.dec.Accepted {
		res.loss, res.grad = lw, gw
	} else {
		res.loss, res.grad = lp, gp
	}
	return res, nil
}
