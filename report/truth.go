package report

import (
	"fmt"
	"image/color"
	"slices"

	"dagrun/dag"
	"dagrun/format"
)

// The report is one of the few readers of a spoiled pool's truth.csv
// (format.TruthFile): it joins what a train, score or rescore node did
// with the truth of the pool it read, for the pictures of Pools of known
// quality. No node's output depends on it.

// truthSlots are the input slots through which a node reads the pool
// whose item indices its outputs use (train and score: pool; rescore:
// instances).
var truthSlots = []string{"pool", "instances"}

// poolTruth returns the truth of the pool a cached node read: when the
// node has exactly one input through truthSlots and that upstream output
// holds truth.csv, its rows (item i's truth); otherwise nil, since item
// indices over several pool dirs do not match one truth.csv. A malformed
// truth.csv is an error naming the upstream node.
func (r *Report) poolTruth(it *dag.PlanItem) ([]string, error) {
	var from *dag.Node
	n := 0
	for _, e := range it.Node.Inputs {
		if slices.Contains(truthSlots, e.Slot) {
			from, n = e.From, n+1
		}
	}
	if n != 1 {
		return nil, nil
	}
	for _, up := range r.Plan.Items {
		if up.Node != from {
			continue
		}
		b, ok := r.readFile(up, format.TruthFile)
		if !ok {
			return nil, nil
		}
		t, err := format.ParseTruth(b)
		if err != nil {
			return nil, fmt.Errorf("node %q: %w", up.Node.Name(), err)
		}
		return t, nil
	}
	return nil, nil
}

// truthOrder is the order of truths in legends: clean, then the defect
// types in format.TruthDefects' order.
func truthOrder(present map[string]bool) []string {
	var out []string
	for _, t := range append([]string{format.TruthClean}, format.TruthDefects...) {
		if present[t] {
			out = append(out, t)
		}
	}
	return out
}

// truthColors gives each truth one colour in every picture: clean the
// accepted green, each defect type its own.
var truthColors = map[string]color.RGBA{
	format.TruthClean: acceptedColor,
	"wrong_category":  {R: 214, G: 39, B: 40, A: 255},
	"empty_mask":      {R: 148, G: 103, B: 189, A: 255},
	"box_mask":        {R: 255, G: 127, B: 14, A: 255},
	"fragment":        {R: 31, G: 119, B: 180, A: 255},
	"multi":           {R: 227, G: 119, B: 194, A: 255},
	"noise":           {R: 140, G: 86, B: 75, A: 255},
	"wrong_label":     {R: 214, G: 39, B: 40, A: 255},
	"blank":           {R: 127, G: 127, B: 127, A: 255},
}

// TruthColor is the colour of a truth in the report's pictures.
func TruthColor(t string) color.RGBA { return truthColors[t] }

// ByTruth returns decisions like ds whose Sources count, instead of
// generator sources, the truths of the items each decision covered, so
// that AcceptanceOverTime(…, BySource, …) gives the acceptance of each
// truth over training. An item outside truth is an error.
func ByTruth(ds []Decision, truth []string) ([]Decision, error) {
	out := make([]Decision, len(ds))
	for k, d := range ds {
		m := map[string]int{}
		for _, i := range d.Items {
			if i < 0 || i >= len(truth) {
				return nil, fmt.Errorf("iteration %d: pool item %d, but truth.csv has %d items", d.Iteration, i, len(truth))
			}
			m[truth[i]]++
		}
		d.Sources = m
		out[k] = d
	}
	return out, nil
}

// BatchScoresByTruth splits the finite scores of per-batch decisions by
// what their batch held: "clean" for a batch of clean items only, and for
// each defect type the batches holding at least one item of it (a batch
// with two types counts under both). Samples are in truthOrder.
func BatchScoresByTruth(runs [][]Decision) []Sample {
	by := map[string][]float64{}
	for _, ds := range runs {
		for _, d := range ds {
			if !finite(d.Score) {
				continue
			}
			if len(d.Sources) == 1 && d.Sources[format.TruthClean] > 0 {
				by[format.TruthClean] = append(by[format.TruthClean], d.Score)
				continue
			}
			for t := range d.Sources {
				if t != format.TruthClean {
					by[t] = append(by[t], d.Score)
				}
			}
		}
	}
	return truthSamples(by)
}

// ItemScoresByTruth splits per-item scores (scores[i] of pool item i) by
// truth[i]. Samples are in truthOrder.
func ItemScoresByTruth(scores []float64, truth []string) ([]Sample, error) {
	if len(scores) != len(truth) {
		return nil, fmt.Errorf("%d scores for %d items of truth.csv", len(scores), len(truth))
	}
	by := map[string][]float64{}
	for i, t := range truth {
		by[t] = append(by[t], scores[i])
	}
	return truthSamples(by), nil
}

func truthSamples(by map[string][]float64) []Sample {
	present := map[string]bool{}
	for t := range by {
		present[t] = true
	}
	var out []Sample
	for _, t := range truthOrder(present) {
		out = append(out, Sample{Name: t, Values: by[t], Color: TruthColor(t)})
	}
	return out
}
