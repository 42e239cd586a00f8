package data

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// The layout of lt-seg scenes: which categories each scene holds
// (assignScenes), and where each rendered instance goes so that no two
// touch (place, fit).

// assignScenes lays out scenes: how many instances each scene has (1..maxInst,
// summing to the counts' total) and which categories (distinct within a
// scene, category c in exactly counts[c] scenes).
func assignScenes(rng *rand.Rand, counts []int, scenes, maxInst int) ([][]int, error) {
	total := 0
	for _, n := range counts {
		total += n
	}
	if total < scenes || total > scenes*maxInst {
		return nil, fmt.Errorf("%d instances do not fit %d scenes of 1 to %d", total, scenes, maxInst)
	}
	capacity := make([]int, scenes)
	var extra []int
	for s := range capacity {
		capacity[s] = 1
		for k := 1; k < maxInst; k++ {
			extra = append(extra, s)
		}
	}
	rng.Shuffle(len(extra), func(i, j int) { extra[i], extra[j] = extra[j], extra[i] })
	for _, s := range extra[:total-scenes] {
		capacity[s]++
	}
	// Fill categories, most frequent first, into the scenes with the most
	// room left (ties in random order): the greedy realization of a
	// bipartite degree sequence, which succeeds whenever one exists.
	order := make([]int, len(counts))
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int { return counts[b] - counts[a] })
	out := make([][]int, scenes)
	for _, c := range order {
		cand := rng.Perm(scenes)
		slices.SortStableFunc(cand, func(a, b int) int { return capacity[b] - capacity[a] })
		for _, s := range cand[:counts[c]] {
			if capacity[s] == 0 {
				return nil, fmt.Errorf("cannot place category %d in %d distinct scenes", c, counts[c])
			}
			capacity[s]--
			out[s] = append(out[s], c)
		}
	}
	for s := range out {
		rng.Shuffle(len(out[s]), func(i, j int) { out[s][i], out[s][j] = out[s][j], out[s][i] })
	}
	return out, nil
}

// place draws a size and a position for each instance so that no two
// instances overlap or touch. Instances are placed largest first; when one
// does not fit, the whole scene is redrawn with smaller sizes.
func (n *ltsegNode) place(rng *rand.Rand, insts []*instance) error {
	S := n.p.Size
	for attempt := 0; attempt < 60; attempt++ {
		shrink := math.Pow(0.95, float64(attempt))
		for _, in := range insts {
			side := n.plan.minSide + rng.IntN(n.plan.maxSide-n.plan.minSide+1)
			side = max(3, int(math.Round(float64(side)*shrink)))
			var err error
			in.w, in.h, in.values, in.mask, err = cut(in.srcImg, in.srcH, in.srcW, side, n.p.Threshold)
			if err != nil {
				return fmt.Errorf("%s: %w", in.source, err)
			}
			in.area = 0
			for _, m := range in.mask {
				if m {
					in.area++
				}
			}
		}
		order := make([]int, len(insts))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return insts[b].area - insts[a].area })
		blocked := make([]bool, S*S)
		ok := true
		for _, i := range order {
			if !n.fit(rng, insts[i], blocked) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	return errors.New("cannot place the instances without touching; lower max_instances or max_side")
}

// fit tries random positions for in until its mask avoids blocked, then
// blocks its pixels and their 8-neighbours.
func (n *ltsegNode) fit(rng *rand.Rand, in *instance, blocked []bool) bool {
	S := n.p.Size
	if in.w > S || in.h > S {
		return false
	}
	for try := 0; try < 100; try++ {
		ox, oy := rng.IntN(S-in.w+1), rng.IntN(S-in.h+1)
		free := true
		for y := 0; y < in.h && free; y++ {
			for x := 0; x < in.w; x++ {
				if in.mask[y*in.w+x] && blocked[(oy+y)*S+ox+x] {
					free = false
					break
				}
			}
		}
		if !free {
			continue
		}
		in.ox, in.oy = ox, oy
		for y := 0; y < in.h; y++ {
			for x := 0; x < in.w; x++ {
				if !in.mask[y*in.w+x] {
					continue
				}
				for dy := -1; dy <= 1; dy++ {
					for dx := -1; dx <= 1; dx++ {
						py, px := oy+y+dy, ox+x+dx
						if py >= 0 && py < S && px >= 0 && px < S {
							blocked[py*S+px] = true
						}
					}
				}
			}
		}
		return true
	}
	return false
}
