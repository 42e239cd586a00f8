package train

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"dagrun/lib/artifact"
	"dagrun/nodes"
	"dagrun/nodes/data"
)

// PoolMeta is the part of a pool dir's meta.json that the pool adds to a
// classification dataset dir: the tag of the generator that made it.
type PoolMeta struct {
	data.ClassMeta
	// Source names the generator, e.g. "noise-σ40". Empty means the pool is
	// named "pool<i>" after its position in the pool input list.
	Source string `json:"source,omitempty"`
}

// Pool is the generated data of a train or score node: the concatenation,
// in input order, of one or more pool dirs, each a classification dataset
// dir whose meta.json may carry a "source" tag. Every item keeps the source
// of the dir it came from.
type Pool struct {
	H, W    int
	Classes []string
	Images  []uint8 // N·H·W
	Labels  []int
	// Sources lists the tag of each pool dir, in input order; Source[i] is
	// the position in Sources of item i.
	Sources []string
	Source  []int
	// Start[k] is the index of the first item of pool dir k; Start has
	// len(Sources)+1 entries, the last being N.
	Start []int
}

// N is the number of items.
func (p *Pool) N() int { return len(p.Labels) }

// LoadPool reads pool dirs (classification dataset dirs, see PoolMeta).
// They must share their image size and class list.
func LoadPool(dirs []string) (*Pool, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("load pool: no pool dirs")
	}
	p := &Pool{Start: []int{0}}
	for k, dir := range dirs {
		c, err := data.LoadClassification(dir)
		if err != nil {
			return nil, fmt.Errorf("load pool: %w", err)
		}
		var meta PoolMeta
		b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
		if err != nil {
			return nil, fmt.Errorf("load pool: %w", err)
		}
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Errorf("load pool: decode %q: %w", filepath.Join(dir, "meta.json"), err)
		}
		src := meta.Source
		if src == "" {
			src = "pool" + strconv.Itoa(k)
		}
		if k == 0 {
			p.H, p.W, p.Classes = c.H, c.W, c.Meta.Classes
		} else if c.H != p.H || c.W != p.W || !slices.Equal(c.Meta.Classes, p.Classes) {
			return nil, fmt.Errorf("load pool: pool %q (%dx%d, classes %q) does not match the first pool (%dx%d, classes %q)",
				dir, c.H, c.W, c.Meta.Classes, p.H, p.W, p.Classes)
		}
		p.Sources = append(p.Sources, src)
		p.Images = append(p.Images, c.Images...)
		for _, l := range c.Labels {
			p.Labels = append(p.Labels, int(l))
			p.Source = append(p.Source, k)
		}
		p.Start = append(p.Start, len(p.Labels))
	}
	if p.N() == 0 {
		return nil, fmt.Errorf("load pool: the pools hold no items")
	}
	return p, nil
}

// prefix returns, ascending, the items kept at pool fraction f: per pool
// dir and per category the first ⌈f·n⌉ of its n items.
func (p *Pool) prefix(f float64) []int {
	var out []int
	for k := range p.Sources {
		per := map[int]int{}
		for _, l := range p.Labels[p.Start[k]:p.Start[k+1]] {
			per[l]++
		}
		taken := map[int]int{}
		for i := p.Start[k]; i < p.Start[k+1]; i++ {
			l := p.Labels[i]
			if taken[l] < keepCount(per[l], f) {
				taken[l]++
				out = append(out, i)
			}
		}
	}
	return out
}

// Batch gathers the items idx with pixels scaled to [0, 1].
func (p *Pool) Batch(idx []int) Batch {
	hw := p.H * p.W
	b := Batch{X: make([]float32, len(idx)*hw), Y: make([]int, len(idx)), Index: slices.Clone(idx)}
	for k, i := range idx {
		for j, v := range p.Images[i*hw : (i+1)*hw] {
			b.X[k*hw+j] = float32(v) / 255
		}
		b.Y[k] = p.Labels[i]
	}
	return b
}

// Draw modes of the pool sampler.
const (
	// DrawPool draws each generated batch from one pool dir, chosen
	// uniformly at random among those with eligible items, so a decision
	// concerns a single source and per-source acceptance rates are
	// meaningful.
	DrawPool = "pool"
	// DrawMixed draws each generated batch from all eligible items.
	DrawMixed = "mixed"
)

// poolSampler draws generated batches of eligible items: per group (one
// pool dir, or all of them), seeded permutations epoch after epoch.
type poolSampler struct {
	rng    *rand.Rand
	groups [][]int // eligible items per group, non-empty groups only
	perms  [][]int
}

// newPoolSampler groups the eligible items (ascending indices into p) by
// draw mode. It returns nil when no item is eligible.
func newPoolSampler(p *Pool, eligible []int, draw string, seed uint64) *poolSampler {
	var groups [][]int
	if draw == DrawMixed {
		if len(eligible) > 0 {
			groups = append(groups, eligible)
		}
	} else {
		byPool := make([][]int, len(p.Sources))
		for _, i := range eligible {
			byPool[p.Source[i]] = append(byPool[p.Source[i]], i)
		}
		for _, g := range byPool {
			if len(g) > 0 {
				groups = append(groups, g)
			}
		}
	}
	if len(groups) == 0 {
		return nil
	}
	return &poolSampler{rng: rand.New(rand.NewPCG(seed, 0x706f6f6c)), groups: groups, perms: make([][]int, len(groups))} // "pool"
}

// next draws k items from one group.
func (s *poolSampler) next(k int) []int {
	g := 0
	if len(s.groups) > 1 {
		g = s.rng.IntN(len(s.groups))
	}
	out := make([]int, 0, k)
	for len(out) < k {
		if len(s.perms[g]) == 0 {
			s.perms[g] = make([]int, len(s.groups[g]))
			for j, q := range s.rng.Perm(len(s.groups[g])) {
				s.perms[g][j] = s.groups[g][q]
			}
		}
		take := min(k-len(out), len(s.perms[g]))
		out = append(out, s.perms[g][:take]...)
		s.perms[g] = s.perms[g][take:]
	}
	return out
}

// File names of a score node's output, read by select modes filter and
// offline.
const (
	// ScoresFile holds one float64 score per pool item (items scored in
	// batches share their batch's score).
	ScoresFile = "scores.npy"
	// AcceptedFile holds the ascending int64 indices of the accepted items.
	AcceptedFile = "accepted.npy"
)

// LoadScores reads the per-item scores and the accepted item indices of a
// score node's output dir, checked against a pool of n items.
func LoadScores(dir string, n int) (scores []float64, accepted []int, err error) {
	s, err := artifact.LoadNPY(filepath.Join(dir, ScoresFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load scores: %w", err)
	}
	a, err := artifact.LoadNPY(filepath.Join(dir, AcceptedFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load scores: %w", err)
	}
	if s.DType != "<f8" || len(s.Shape) != 1 || s.Shape[0] != n {
		return nil, nil, fmt.Errorf("load scores: %s is %s %v, want float64 [%d] (one score per pool item)", ScoresFile, s.DType, s.Shape, n)
	}
	if a.DType != "<i8" || len(a.Shape) != 1 {
		return nil, nil, fmt.Errorf("load scores: %s is %s %v, want int64 [K]", AcceptedFile, a.DType, a.Shape)
	}
	accepted = make([]int, len(a.I64))
	for k, i := range a.I64 {
		if i < 0 || int(i) >= n || k > 0 && int(i) <= accepted[k-1] {
			return nil, nil, fmt.Errorf("load scores: %s entry %d (%d) is not an ascending index below %d", AcceptedFile, k, i, n)
		}
		accepted[k] = int(i)
	}
	return s.F64, accepted, nil
}

// poolProposer builds the classification proposer from the pool input and,
// for filter and offline, the scores input; for those it also returns the
// acceptance rates of the preselection.
func (n *Node) poolProposer(ds *Dataset, env *nodes.Env) (Proposer, *preselection, error) {
	sp := n.Params.Select
	dirs := env.Inputs["pool"]
	if len(dirs) == 0 {
		return nil, nil, fmt.Errorf("select mode %q needs a pool input", sp.Mode)
	}
	pool, err := LoadPool(dirs)
	if err != nil {
		return nil, nil, err
	}
	if pool.H != ds.H || pool.W != ds.W || !slices.Equal(pool.Classes, ds.Classes) {
		return nil, nil, fmt.Errorf("pool (%dx%d, classes %q) does not match the train set (%dx%d, classes %q)",
			pool.H, pool.W, pool.Classes, ds.H, ds.W, ds.Classes)
	}
	prefix := pool.prefix(n.Params.PoolFraction)
	eligible := slices.Clone(prefix)
	var scores []float64
	if sp.Mode == ModeFilter || sp.Mode == ModeOffline {
		dir := env.Input("scores")
		if dir == "" {
			return nil, nil, fmt.Errorf("select mode %q needs a scores input", sp.Mode)
		}
		var accepted []int
		scores, accepted, err = LoadScores(dir, pool.N())
		if err != nil {
			return nil, nil, err
		}
		inPrefix := make([]bool, pool.N())
		for _, i := range eligible {
			inPrefix[i] = true
		}
		eligible = eligible[:0]
		if sp.Mode == ModeOffline {
			for _, i := range accepted {
				if inPrefix[i] {
					eligible = append(eligible, i)
				}
			}
		} else {
			for i, s := range scores {
				if s >= sp.Tau && inPrefix[i] {
					eligible = append(eligible, i)
				}
			}
		}
	}
	var pre *preselection
	if sp.Mode == ModeFilter || sp.Mode == ModeOffline {
		pre = newPreselection(pool, prefix, eligible, ds.Groups)
		pre.scores, pre.tau = scores, math.NaN()
		if sp.Mode == ModeFilter {
			pre.tau = sp.Tau
		}
	}
	k := sp.Batch
	if k == 0 {
		k = n.Params.BatchSize
	}
	return &poolProposer{pool: pool, sampler: newPoolSampler(pool, eligible, sp.Draw, n.Params.Seed), n: k}, pre, nil
}

// preselection holds the acceptance rates of a selection made before
// training (filter, offline): the fractions of the offered pool items
// (those within pool_fraction) kept, overall, per source and per frequency
// group; and, for the gallery, the offered items left out (ascending),
// every pool item's score and the filter's threshold (NaN for offline).
type preselection struct {
	rate              float64
	bySource, byGroup map[string]float64

	pool    *Pool
	dropped []int
	scores  []float64
	tau     float64
}

func newPreselection(pool *Pool, offered, eligible []int, groups map[string]string) *preselection {
	keep := make([]bool, pool.N())
	for _, i := range eligible {
		keep[i] = true
	}
	srcSeen, srcAcc, grpSeen, grpAcc := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, i := range offered {
		src := pool.Sources[pool.Source[i]]
		g, hasGroup := groups[pool.Classes[pool.Labels[i]]]
		srcSeen[src]++
		if hasGroup {
			grpSeen[g]++
		}
		if keep[i] {
			srcAcc[src]++
			if hasGroup {
				grpAcc[g]++
			}
		}
	}
	var dropped []int
	for _, i := range offered {
		if !keep[i] {
			dropped = append(dropped, i)
		}
	}
	return &preselection{rate: float64(len(eligible)) / float64(len(offered)), bySource: rates(srcAcc, srcSeen), byGroup: rates(grpAcc, grpSeen),
		pool: pool, dropped: dropped}
}
