package selection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"dagrun/format"
	"dagrun/nodes"
)

// RescoreParams configure a rescore node: the classifier filter's
// threshold and area bounds, as select's.
type RescoreParams struct {
	Threshold float64 `yaml:"threshold" json:"threshold" doc:"an item is accepted when the classifier's probability of its category, on its masked composite, is at least this"`
	MinArea   float64 `yaml:"min_area" json:"min_area" doc:"an item is accepted only when its mask covers at least this fraction of the image; 0 ≤ min_area ≤ max_area"`
	MaxArea   float64 `yaml:"max_area" json:"max_area" doc:"an item is accepted only when its mask covers at most this fraction of the image, at most 1"`
}

// DefaultRescoreParams are select's classifier defaults.
func DefaultRescoreParams() RescoreParams {
	return RescoreParams{Threshold: DefaultClassifierThreshold, MinArea: 0.05, MaxArea: 0.95}
}

// Validate implements nodes.Validator.
func (p RescoreParams) Validate() error {
	if !(p.MinArea >= 0 && p.MinArea <= p.MaxArea && p.MaxArea <= 1) {
		return fmt.Errorf("min_area %v and max_area %v: want 0 ≤ min_area ≤ max_area ≤ 1", p.MinArea, p.MaxArea)
	}
	return nil
}

// RescoreKind returns the rescore kind: select's classifier filter applied
// to instances dirs as they are (each item's own mask), written as per-item
// scores for a train node in select mode filter or offline.
func RescoreKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "rescore",
		Doc:     "the classifier filter of select applied to instances dirs as they are (each item's own mask; e.g. a spoiled pool): per item the classifier's probability of its category on the masked composite (scores.npy) and the items passing threshold and area bounds (accepted.npy), for train's select modes filter and offline",
		Version: 1,
		Inputs: []nodes.Slot{
			{Name: "instances", Doc: "instances dirs, scored in input order (item indices are positions over them concatenated, as train's pool items)", Many: true, Accepts: []string{format.TypeInstances}},
			{Name: "scorer", Doc: "a train node's classifier over the instances' classes (as select's scorer)", Accepts: []string{format.TypeModel}},
		},
		Produces: format.TypeScores,
		Outputs:  []string{format.ScoresFile, format.AcceptedFile, "metrics.json"},
	}, DefaultRescoreParams, func(_ nodes.Build, p RescoreParams) (nodes.Node, error) {
		return &RescoreNode{p: p}, nil
	})
}

// RescoreNode is a configured rescore node.
type RescoreNode struct{ p RescoreParams }

// RescoreMetrics is a rescore node's metrics.json.
type RescoreMetrics struct {
	Items      int            `json:"items"`
	Accepted   int            `json:"accepted"`
	AcceptRate float64        `json:"accept_rate"`
	Dropped    map[string]int `json:"dropped"`
}

// Run writes scores.npy, accepted.npy and metrics.json.
func (n *RescoreNode) Run(ctx context.Context, env *nodes.Env) error {
	if err := n.run(ctx, env); err != nil {
		return fmt.Errorf("rescore: %w", err)
	}
	return nil
}

func (n *RescoreNode) run(ctx context.Context, env *nodes.Env) error {
	dirs, model := env.Inputs["instances"], env.Input("scorer")
	if len(dirs) == 0 || model == "" {
		return errors.New("needs the instances and scorer inputs")
	}
	var scores, areas []float64
	var classes []string
	var scorer *Classifier
	for k, dir := range dirs {
		in, err := format.LoadInstances(dir)
		if err != nil {
			return err
		}
		if k == 0 {
			classes = in.Meta.Classes
			if scorer, err = NewClassifier(filepath.Join(model, format.ModelDir), in.H, in.W, classes); err != nil {
				return err
			}
		} else if !slices.Equal(in.Meta.Classes, classes) {
			return fmt.Errorf("instances %q: classes %q differ from the first dir's %q", dir, in.Meta.Classes, classes)
		}
		hw := in.H * in.W
		comp := make([]uint8, len(in.Images))
		for i := range in.N {
			m := in.Masks[i*hw : (i+1)*hw]
			copy(comp[i*hw:], Composite(in.Images[i*hw:(i+1)*hw], m))
			areas = append(areas, AreaFraction(m))
		}
		s, err := scorer.Score(ctx, comp, in.H, in.W, in.Labels)
		if err != nil {
			return fmt.Errorf("instances %q: %w", dir, err)
		}
		scores = append(scores, s...)
		env.Report(k+1, len(dirs))
	}
	dec := Choose([][]float64{scores}, [][]float64{areas}, n.p.Threshold, n.p.MinArea, n.p.MaxArea)
	accepted := []int64{}
	met := RescoreMetrics{Items: len(dec), Dropped: map[string]int{ReasonScore: 0, ReasonArea: 0}}
	for i, d := range dec {
		if d.Kept() {
			accepted = append(accepted, int64(i))
		} else {
			met.Dropped[d.Reason]++
		}
	}
	met.Accepted = len(accepted)
	if met.Items > 0 {
		met.AcceptRate = float64(met.Accepted) / float64(met.Items)
	}
	if err := format.SaveScores(env.OutDir, scores, accepted); err != nil {
		return err
	}
	b, err := json.MarshalIndent(met, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(env.OutDir, "metrics.json"), append(b, '\n'), 0o644)
}
