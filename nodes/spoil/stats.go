package spoil

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"

	"dagrun/format"
	"dagrun/nodes"
)

// StatsParams are the params of the selection-stats kind (none).
type StatsParams struct{}

// StatsKind returns the selection-stats kind: a report-side join of a train
// node's decisions (and optionally a score node's per-item scores) with a
// spoiled pool's truth.
func StatsKind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "selection-stats",
		Doc:     "joins a train node's decisions.csv (and optionally per-item scores) with a spoiled pool's truth.csv: acceptance per defect type and for clean items, precision and recall of clean, batch defect fraction vs score, ROC AUC of per-item scores per defect type (and of the train node's item_scores.csv probe), the share of each truth the scores input kept and the share that reached training",
		Version: 2,
		Inputs: []nodes.Slot{
			{Name: "train", Doc: "the train node fed the spoiled pool (its only pool input)", Accepts: []string{format.TypeModel}},
			{Name: "truth", Doc: "the spoil or spoil-images node whose truth.csv describes that pool", Accepts: []string{format.TypeInstances, format.TypeClassification}},
			{Name: "scores", Doc: "a score node over the same pool: per-item ROC AUC, clean vs each defect type", Optional: true, Accepts: []string{format.TypeScores}},
		},
		Outputs: []string{"metrics.json"},
	}, nil, func(_ nodes.Build, _ StatsParams) (nodes.Node, error) { return &StatsNode{}, nil })
}

// StatsNode is a configured selection-stats node.
type StatsNode struct{}

// Stats is selection-stats' metrics.json. Acceptance counts item
// occurrences: an item offered in two decisions counts twice.
type Stats struct {
	Offered   map[string]int     `json:"offered_by_truth"`
	Accept    map[string]float64 `json:"accept_by_truth"`
	Precision *float64           `json:"precision_clean,omitempty"`
	// Recall is the share of clean item occurrences offered that were
	// accepted, times (with a scores input) the share of clean items the
	// scores kept: Selected's clean entry, over both stages.
	Recall *float64 `json:"recall_clean,omitempty"`
	// DefectScoreCorr is the Pearson correlation, over decisions with a
	// score, of a decision's defect fraction and its score.
	DefectScoreCorr *float64 `json:"batch_defect_score_corr,omitempty"`
	DefectAccepted  *float64 `json:"batch_defect_fraction_accepted,omitempty"`
	DefectRejected  *float64 `json:"batch_defect_fraction_rejected,omitempty"`
	// AUC is, per defect type, the ROC AUC of the per-item score for
	// clean (positive) vs that type (ties count one half).
	AUC map[string]float64 `json:"auc_by_truth,omitempty"`
	// Kept is, with a scores input, the fraction of each truth's pool
	// items in its accepted.npy (what a filter or offline selection kept
	// before training; items, not occurrences).
	Kept map[string]float64 `json:"kept_by_truth,omitempty"`
	// Selected is, per truth, the share that reached training: Accept
	// times Kept (Kept taken as 1 without a scores input; 0 for a truth
	// that Kept shows fully dropped, which no decision then offers). Its
	// clean entry is the recall of clean items over both stages, the one
	// number comparable across online and preselecting rows.
	Selected map[string]float64 `json:"select_by_truth"`
	// ProbeAUC is, per defect type, the ROC AUC of the train node's
	// per-item probe of the online score (item_scores.csv, written with
	// select.item_scores) for clean vs that type, over item occurrences.
	ProbeAUC map[string]float64 `json:"probe_auc_by_truth,omitempty"`
}

// ProbeAUC returns, per defect type, the ROC AUC of per-item probe scores
// for clean (positive) vs that type; nil when there are no clean or no
// defective occurrences.
func ProbeAUC(rows []format.ItemScore, truth []string) (map[string]float64, error) {
	var clean []float64
	byType := map[string][]float64{}
	for _, r := range rows {
		if r.PoolItem >= len(truth) {
			return nil, fmt.Errorf("iteration %d: item score of pool item %d, but truth.csv has %d items", r.Iteration, r.PoolItem, len(truth))
		}
		if t := truth[r.PoolItem]; t == format.TruthClean {
			clean = append(clean, r.Score)
		} else {
			byType[t] = append(byType[t], r.Score)
		}
	}
	if len(clean) == 0 || len(byType) == 0 {
		return nil, nil
	}
	out := map[string]float64{}
	for t, s := range byType {
		out[t] = AUC(clean, s)
	}
	return out, nil
}

func ptr(x float64) *float64 { return &x }

// Join computes the statistics of decisions against truth, and of
// per-item scores (nil: none) and the items they accepted (ascending
// indices; used only with scores) against truth.
func Join(decisions []format.Decision, truth []string, scores []float64, accepted []int) (*Stats, error) {
	st := &Stats{Offered: map[string]int{}, Accept: map[string]float64{}, Selected: map[string]float64{}}
	acc := map[string]int{}
	var xs, ys, fa, fr []float64
	for _, d := range decisions {
		bad := 0
		for _, i := range d.Items {
			if i >= len(truth) {
				return nil, fmt.Errorf("iteration %d: pool item %d, but truth.csv has %d items (is the spoiled pool the train node's only pool?)", d.Iteration, i, len(truth))
			}
			st.Offered[truth[i]]++
			if d.Accepted {
				acc[truth[i]]++
			}
			if truth[i] != format.TruthClean {
				bad++
			}
		}
		if len(d.Items) == 0 {
			continue
		}
		f := float64(bad) / float64(len(d.Items))
		if d.Accepted {
			fa = append(fa, f)
		} else {
			fr = append(fr, f)
		}
		if !math.IsNaN(d.Score) {
			xs, ys = append(xs, f), append(ys, d.Score)
		}
	}
	total, accTotal := 0, 0
	for t, n := range st.Offered {
		st.Accept[t] = float64(acc[t]) / float64(n)
		total += n
		accTotal += acc[t]
	}
	if accTotal > 0 {
		st.Precision = ptr(float64(acc[format.TruthClean]) / float64(accTotal))
	}
	if c, ok := pearson(xs, ys); ok {
		st.DefectScoreCorr = ptr(c)
	}
	if len(fa) > 0 {
		st.DefectAccepted = ptr(mean(fa))
	}
	if len(fr) > 0 {
		st.DefectRejected = ptr(mean(fr))
	}
	if scores != nil {
		if len(scores) != len(truth) {
			return nil, fmt.Errorf("%d scores for %d items of truth.csv", len(scores), len(truth))
		}
		st.AUC = map[string]float64{}
		var clean []float64
		byType := map[string][]float64{}
		for i, t := range truth {
			if t == format.TruthClean {
				clean = append(clean, scores[i])
			} else {
				byType[t] = append(byType[t], scores[i])
			}
		}
		for t, s := range byType {
			if len(clean) > 0 {
				st.AUC[t] = AUC(clean, s)
			}
		}
		n, k := map[string]int{}, map[string]int{}
		for _, t := range truth {
			n[t]++
		}
		for _, i := range accepted {
			if i < 0 || i >= len(truth) {
				return nil, fmt.Errorf("accepted item %d outside truth.csv's %d items", i, len(truth))
			}
			k[truth[i]]++
		}
		st.Kept = map[string]float64{}
		for t, c := range n {
			st.Kept[t] = float64(k[t]) / float64(c)
		}
	}
	for t, a := range st.Accept {
		st.Selected[t] = a
		if st.Kept != nil {
			st.Selected[t] = a * st.Kept[t]
		}
	}
	for t, k := range st.Kept {
		if k == 0 {
			st.Selected[t] = 0
		}
	}
	if r, ok := st.Selected[format.TruthClean]; ok {
		st.Recall = ptr(r)
	}
	return st, nil
}

// AUC is the probability that a positive's score exceeds a negative's,
// ties counting one half (the Mann-Whitney statistic), by ranks. A NaN
// score (an item a score node could not score) ranks below every number,
// as bsgal.TopFraction ranks it, and ties with other NaNs.
func AUC(pos, neg []float64) float64 {
	type v struct {
		x   float64
		pos bool
	}
	all := make([]v, 0, len(pos)+len(neg))
	for _, x := range pos {
		all = append(all, v{x, true})
	}
	for _, x := range neg {
		all = append(all, v{x, false})
	}
	less := func(a, b float64) bool { return math.IsNaN(a) && !math.IsNaN(b) || a < b }
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	sort.SliceStable(all, func(i, j int) bool { return less(all[i].x, all[j].x) })
	rankSum := 0.0
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && same(all[j].x, all[i].x) {
			j++
		}
		r := float64(i+j+1) / 2 // mean 1-based rank of the tie group
		for k := i; k < j; k++ {
			if all[k].pos {
				rankSum += r
			}
		}
		i = j
	}
	np, nn := float64(len(pos)), float64(len(neg))
	return (rankSum - np*(np+1)/2) / (np * nn)
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// pearson is the correlation of x and y; ok is false when either is
// constant or there are fewer than two points.
func pearson(x, y []float64) (float64, bool) {
	if len(x) < 2 {
		return 0, false
	}
	mx, my := mean(x), mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		sxy += (x[i] - mx) * (y[i] - my)
		sxx += (x[i] - mx) * (x[i] - mx)
		syy += (y[i] - my) * (y[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return 0, false
	}
	return sxy / math.Sqrt(sxx*syy), true
}

// Run writes metrics.json.
func (n *StatsNode) Run(ctx context.Context, env *nodes.Env) error {
	wrap := func(err error) error { return fmt.Errorf("selection-stats: %w", err) }
	tr, tt := env.Input("train"), env.Input("truth")
	if tr == "" || tt == "" {
		return wrap(errors.New("needs the train and truth inputs"))
	}
	b, err := os.ReadFile(filepath.Join(tr, format.DecisionsFile))
	if err != nil {
		return wrap(err)
	}
	decisions, err := format.ParseDecisions(b)
	if err != nil {
		return wrap(err)
	}
	if b, err = os.ReadFile(filepath.Join(tt, format.TruthFile)); err != nil {
		return wrap(err)
	}
	truth, err := format.ParseTruth(b)
	if err != nil {
		return wrap(err)
	}
	var scores []float64
	var accepted []int
	if sd := env.Input("scores"); sd != "" {
		if scores, accepted, err = format.LoadScores(sd, len(truth)); err != nil {
			return wrap(err)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	st, err := Join(decisions, truth, scores, accepted)
	if err != nil {
		return wrap(err)
	}
	if b, err := os.ReadFile(filepath.Join(tr, format.ItemScoresFile)); err == nil {
		rows, err := format.ParseItemScores(b)
		if err != nil {
			return wrap(err)
		}
		if st.ProbeAUC, err = ProbeAUC(rows, truth); err != nil {
			return wrap(err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return wrap(err)
	}
	out, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return wrap(err)
	}
	if err := os.WriteFile(filepath.Join(env.OutDir, "metrics.json"), append(out, '\n'), 0o644); err != nil {
		return wrap(err)
	}
	env.Report(1, 1)
	return nil
}
