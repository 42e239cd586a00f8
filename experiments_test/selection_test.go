package experiments_test

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes/spoil"
	"dagrun/report"
)

// runCold runs a spec's ci profile into a fresh cache and returns the
// metrics of every node by name; every node must succeed. after (if not
// nil) is given the cache and graph before the cache closes.
func runCold(t *testing.T, name string, after func(*cache.Cache, *dag.Graph)) map[string]map[string]float64 {
	t.Helper()
	ctx := context.Background()
	c, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g := buildSpec(t, name, "ci")
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 2}}).Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for _, r := range sum.Results {
		// Cached: a node whose key another node of the run computed
		// (the oracle's pool at 0 % equals the spoiled one, so oracle
		// and all are one entry there).
		if r.State != dag.Done && r.State != dag.Cached {
			t.Fatalf("%s: node %q ended %s, want done", name, r.Node.Name(), r.State)
		}
		if out[r.Node.Name()], err = c.Metrics(ctx, r.Key); err != nil {
			t.Fatal(err)
		}
	}
	if after != nil {
		after(c, g)
	}
	return out
}

// truths lists the truths a stats node's select_by_truth names.
func truths(m map[string]float64) []string {
	var out []string
	for k := range m {
		if t, ok := strings.CutPrefix(k, "select_by_truth."); ok {
			out = append(out, t)
		}
	}
	return out
}

// checkStats checks what holds by construction in every cell of a
// selection spec: on a clean pool only clean items are met; all trains on
// every type it meets; the oracle meets only clean items (precision 1);
// with defects every type is met by all; a row with per-item scores has an
// AUC and a kept share per defect type.
// cell names a node's instance on a pool (the axes' order is the spec's).
func checkStats(t *testing.T, m map[string]map[string]float64, cell func(node, pool string) string, pools []string, methods []string, defects []string, scored ...string) {
	t.Helper()
	for _, pool := range pools {
		for _, method := range methods {
			name := cell("stats_"+method, pool)
			st, ok := m[name]
			if !ok {
				t.Errorf("no node %s", name)
				continue
			}
			ts := truths(st)
			switch {
			case method == "none":
				if len(ts) != 0 {
					t.Errorf("%s: none met %v", name, ts)
				}
				continue
			case pool == "p0" || method == "oracle":
				if len(ts) != 1 || ts[0] != "clean" || st["precision_clean"] != 1 {
					t.Errorf("%s: met %v, precision %v; want clean only", name, ts, st["precision_clean"])
				}
			default:
				for _, d := range append([]string{"clean"}, defects...) {
					if _, ok := st["select_by_truth."+d]; !ok {
						t.Errorf("%s: no select_by_truth.%s", name, d)
					}
				}
			}
			if method == "all" {
				for _, d := range ts {
					if st["select_by_truth."+d] != 1 {
						t.Errorf("%s: all selected %v of %s", name, st["select_by_truth."+d], d)
					}
				}
			}
			if slices.Contains(scored, method) && pool != "p0" {
				for _, d := range defects {
					if _, ok := st["auc_by_truth."+d]; !ok {
						t.Errorf("%s: no auc_by_truth.%s", name, d)
					}
					if _, ok := st["kept_by_truth."+d]; !ok {
						t.Errorf("%s: no kept_by_truth.%s", name, d)
					}
				}
			}
		}
	}
}

// TestSelectionCI runs experiments/selection.yaml's ci profile cold (it
// shares its real data, pools, annotators, filter and scorer with
// table7's) and checks the joins with the truth: see checkStats, and that
// the filter row drops every box_mask item (mask area 1 > max_area) and
// every empty_mask item (a speck < min_area) before training, that the
// offline row (per-item scores of instances) gives an AUC per type, and
// that the online BSGAL rows report the batch defect fraction against
// score; and the plots of that cache (checkTruthPlots).
func TestSelectionCI(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold run of selection.yaml's ci profile: skipped with -short")
	}
	needData(t)
	m := runCold(t, "selection.yaml", func(c *cache.Cache, g *dag.Graph) { checkTruthPlots(t, c, g) })
	methods := []string{"none", "all", "random", "filter", "offline", "bsgal", "dot", "lookahead", "oracle"}
	// seg.yaml's seed axis comes first.
	cell := func(node, pool string) string { return node + "[seed=1,pool=" + pool + "]" }
	checkStats(t, m, cell, []string{"p0", "p40"}, methods, spoil.InstanceTypes, "filter", "offline")
	for _, pool := range []string{"p40"} {
		st := m[cell("stats_filter", pool)]
		if st["select_by_truth.box_mask"] != 0 || st["select_by_truth.empty_mask"] != 0 {
			t.Errorf("filter on %s selected box_mask %v and empty_mask %v, want 0", pool, st["select_by_truth.box_mask"], st["select_by_truth.empty_mask"])
		}
		for _, method := range []string{"bsgal", "dot"} {
			st := m[cell("stats_"+method, pool)]
			for _, k := range []string{"batch_defect_score_corr", "batch_defect_fraction_accepted", "batch_defect_fraction_rejected"} {
				if _, ok := st[k]; !ok {
					t.Errorf("stats_%s on %s: no %s", method, pool, k)
				}
			}
		}
	}
	for _, method := range methods {
		for _, pool := range []string{"p0", "p40"} {
			if _, ok := m[fmt.Sprintf("eval[seed=1,pool=%s,method=%s]", pool, method)]["AP"]; !ok {
				t.Errorf("eval of %s on %s: no AP", method, pool)
			}
		}
	}
}

// TestSelectionToyCI runs experiments/selection-toy.yaml's ci profile cold
// and checks its joins (checkStats; the offline row's scores give the AUC
// and the kept share per type), that the online rows' per-instance probe
// gives an AUC per type, and that every row is evaluated.
func TestSelectionToyCI(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold run of selection-toy.yaml's ci profile: skipped with -short")
	}
	needData(t)
	m := runCold(t, "selection-toy.yaml", func(c *cache.Cache, g *dag.Graph) {
		r, err := report.Collect(context.Background(), g, c)
		if err != nil {
			t.Fatal(err)
		}
		plots, err := r.WritePlots(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{
			"probe item scores by truth: train_bsgal[pool=p40]": true, "probe item scores by truth: train_dot[pool=p40]": true,
			"item scores by truth: offline_scores[pool=p40]": true, "acceptance by truth: train_random[pool=p40]": true,
		}
		for _, p := range plots {
			delete(want, p.Title)
			if strings.HasPrefix(p.Title, "probe item scores by truth: train_all") {
				t.Errorf("plot %q: all has no probe", p.Title)
			}
		}
		if len(want) > 0 {
			t.Errorf("missing plots %v", want)
		}
	})
	methods := []string{"none", "all", "random", "offline", "bsgal", "dot", "lookahead", "oracle"}
	cell := func(node, pool string) string { return node + "[pool=" + pool + ",seed=1]" }
	checkStats(t, m, cell, []string{"p0", "p40"}, methods, spoil.ImageTypes, "offline")
	// The per-instance probe of the online score (bsgal and dot rows).
	for _, method := range []string{"bsgal", "dot"} {
		st := m[cell("stats_"+method, "p40")]
		for _, d := range spoil.ImageTypes {
			if v, ok := st["probe_auc_by_truth."+d]; !ok || v < 0 || v > 1 {
				t.Errorf("stats_%s on p40: probe_auc_by_truth.%s = %v (%v)", method, d, v, ok)
			}
		}
	}
	for _, method := range methods {
		if _, ok := m[fmt.Sprintf("eval[pool=p40,method=%s,seed=1]", method)]["accuracy"]; !ok {
			t.Errorf("eval of %s on p40: no accuracy", method)
		}
	}
}

// checkTruthPlots writes the report's plots from selection.yaml's ci cache
// and checks the pictures of Pools of known quality: acceptance by truth
// and batch scores by truth for the online rows on p40, the filter's item
// scores by truth, and its gallery tinted by truth, where the items the
// filter dropped before training include box_mask items (all of them are
// dropped: mask area 1 > max_area), so box_mask's colour fills the bands
// under their tiles, far more pixels than the legend's swatch. On p0 (all clean) there is no
// defect to show: its item-score plot has the clean sample alone, and its
// gallery no tint.
func checkTruthPlots(t *testing.T, c *cache.Cache, g *dag.Graph) {
	t.Helper()
	ctx := context.Background()
	r, err := report.Collect(ctx, g, c)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plots, err := r.WritePlots(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]report.Plot{}
	for _, p := range plots {
		byTitle[p.Title] = p
	}
	decode := func(title string) image.Image {
		p, ok := byTitle[title]
		if !ok {
			t.Errorf("no plot %q", title)
			return nil
		}
		f, err := os.Open(filepath.Join(dir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", p.File, err)
		}
		return img
	}
	for _, title := range []string{
		"acceptance by truth: train_all[pool=p40]", "acceptance by truth: train_bsgal[pool=p40]",
		"batch scores by truth: train_bsgal[pool=p40]", "batch scores by truth: train_lookahead[pool=p40]",
		"item scores by truth: rescore[pool=p40]", "item scores by truth: rescore[pool=p0]",
		"item scores by truth: offline_scores[pool=p40]",
		"accepted vs rejected generated instances: train_all[pool=p0]",
	} {
		decode(title)
	}
	if _, ok := byTitle["acceptance by truth: train_none"]; ok {
		t.Error("an acceptance plot for none, which meets no item")
	}
	title := "accepted vs rejected generated instances: train_filter[pool=p40]"
	if decode(title) != nil && !strings.Contains(byTitle[title].Caption, "tinted by their item's truth") {
		t.Errorf("%s: caption %q does not say it is tinted by truth", title, byTitle[title].Caption)
	}
	// The tiles and bands themselves are report's TestSaveGalleryTruth
	// (this package may not name the truth's identifiers: format's
	// TestTruthIsReadOnlyByReports).
}
