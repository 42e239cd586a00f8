package train

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"dagrun/format"
	"dagrun/lib/learn"
	"dagrun/nodes"
)

// poolPrefix returns, ascending, the items of p kept at pool fraction f: per
// pool dir and per category the first ⌈f·n⌉ of its n items.
func poolPrefix(p *format.Pools, f float64) []int {
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

// poolBatch gathers the items idx of p with pixels scaled to [0, 1].
func poolBatch(p *format.Pools, idx []int) learn.Batch {
	return learn.Gather(p.Images, p.H*p.W, p.Labels, 1, idx)
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
func newPoolSampler(p *format.Pools, eligible []int, draw string, seed uint64) *poolSampler {
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

// poolProposer builds the classification proposer from the pool input and,
// for filter and offline, the scores input; for those it also returns the
// acceptance rates of the preselection.
func (n *Node) poolProposer(ds *learn.Dataset, env *nodes.Env) (Proposer, *preselection, error) {
	sp := n.Params.Select
	dirs := env.Inputs["pool"]
	if len(dirs) == 0 {
		return nil, nil, fmt.Errorf("select mode %q needs a pool input", sp.Mode)
	}
	pool, err := format.LoadPools(dirs)
	if err != nil {
		return nil, nil, err
	}
	if pool.H != ds.H || pool.W != ds.W || !slices.Equal(pool.Classes, ds.Classes) {
		return nil, nil, fmt.Errorf("pool (%dx%d, classes %q) does not match the train set (%dx%d, classes %q)",
			pool.H, pool.W, pool.Classes, ds.H, ds.W, ds.Classes)
	}
	prefix := poolPrefix(pool, n.Params.PoolFraction)
	eligible := slices.Clone(prefix)
	var scores []float64
	if sp.Mode == ModeFilter || sp.Mode == ModeOffline {
		dir := env.Input("scores")
		if dir == "" {
			return nil, nil, fmt.Errorf("select mode %q needs a scores input", sp.Mode)
		}
		var accepted []int
		scores, accepted, err = format.LoadScores(dir, pool.N())
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
		tau := math.NaN()
		if sp.Mode == ModeFilter {
			tau = sp.Tau
		}
		describe := func(i int) (string, string, int, float64) {
			return pool.Sources[pool.Source[i]], pool.Classes[pool.Labels[i]], i, scores[i]
		}
		pre = newPreselection(pool.N(), describe, prefix, eligible, ds.Groups, tau)
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

	// dropped lists the gallery rows of the offered items left out
	// (iteration 0), in ascending item order.
	dropped []galleryItem
}

// preItem describes offered item i to newPreselection: its source and
// category names, its pool identity and its score.
type preItem func(i int) (source, category string, poolItem int, score float64)

func newPreselection(n int, describe preItem, offered, eligible []int, groups map[string]string, tau float64) *preselection {
	keep := make([]bool, n)
	for _, i := range eligible {
		keep[i] = true
	}
	srcSeen, srcAcc, grpSeen, grpAcc := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, i := range offered {
		src, cat, _, _ := describe(i)
		g, hasGroup := groups[cat]
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
	var dropped []galleryItem
	for _, i := range offered {
		if !keep[i] {
			src, cat, pi, score := describe(i)
			dropped = append(dropped, galleryItem{item: i, poolItem: pi, score: score, tau: tau, source: src, cat: cat})
		}
	}
	return &preselection{rate: float64(len(eligible)) / float64(len(offered)), bySource: rates(srcAcc, srcSeen), byGroup: rates(grpAcc, grpSeen),
		dropped: dropped}
}
