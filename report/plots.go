package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"dagrun/dag"
	"dagrun/format"
	"dagrun/lib/artifact"
)

// Plot is one PNG written by WritePlots.
type Plot struct {
	// File is the PNG's name inside the plots folder.
	File    string
	Title   string
	Caption string
	// Section groups plots on the page: "metrics", "instances",
	// "acceptance", "scores", "loss", "val".
	Section string
}

// Plot sections, in page order.
var sections = []struct{ ID, Title string }{
	{"metrics", "Metrics"},
	{"instances", "Accepted vs rejected generated instances"},
	{"acceptance", "Acceptance over training"},
	{"scores", "Scores and thresholds"},
	{"loss", "Training loss"},
	{"val", "Validation"},
}

// group is the cached instances of one node that differ only in the
// report's `over` axes (the seeds of one configuration).
type group struct {
	base, label string
	items       []*dag.PlanItem
}

// groupsWith returns, in spec order, the groups of cached items that have
// an output file called name.
func (r *Report) groupsWith(name string) []*group {
	var over []string
	if r.Graph.Spec.Report != nil {
		over = r.Graph.Spec.Report.Over
	}
	var out []*group
	byID := map[string]*group{}
	for _, it := range r.Plan.Items {
		if it.Entry == nil || !hasFile(it, name) {
			continue
		}
		var pairs []string
		for _, av := range it.Node.Spec.Cell {
			if indexOf(over, av.Axis) < 0 {
				pairs = append(pairs, av.Axis+"="+av.Value)
			}
		}
		label := it.Node.Spec.Base
		if len(pairs) > 0 {
			label += "[" + strings.Join(pairs, ",") + "]"
		}
		g := byID[label]
		if g == nil {
			g = &group{base: it.Node.Spec.Base, label: label}
			byID[label] = g
			out = append(out, g)
		}
		g.items = append(g.items, it)
	}
	return out
}

func hasFile(it *dag.PlanItem, name string) bool {
	for _, f := range it.Entry.Manifest {
		if f.Path == name || path.Base(f.Path) == name {
			return true
		}
	}
	return false
}

// WritePlots writes every plot the cached outputs allow into dir (created
// if needed) and returns them in page order: each report metric against
// the rows (against a numeric row axis as lines with error bars over the
// `over` axes, e.g. AP vs amount of generated data); per configuration
// with decisions.csv, the acceptance rate over training per generator
// source and per frequency group, the score histogram of accepted vs
// rejected batches and the threshold against the scores; per
// configuration with a gallery (gallery/), its accepted and rejected
// generated items side by side by source; per node with loss.csv or
// val.csv, the training loss and validation curves (mean over seeds).
// Where a node read one spoiled pool (poolTruth), its pictures join the
// truth: acceptance per truth over training, batch scores by what the
// batch held, a score or rescore node's per-item scores by truth, and
// the gallery tinted by truth.
// Files that are absent are skipped; a malformed decisions.csv, gallery,
// loss.csv or val.csv is an error that names the node.
func (r *Report) WritePlots(ctx context.Context, dir string) ([]Plot, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("write plots: %w", err)
	}
	w := &plotWriter{dir: dir}
	if r.Table != nil {
		for i, m := range r.Table.Metrics {
			if err := w.metric(r.Table, i, m); err != nil {
				return nil, err
			}
		}
	}
	for _, g := range r.groupsWith(galleryCSV) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.galleryPlot(w, g); err != nil {
			return nil, err
		}
	}
	for _, g := range r.groupsWith(format.DecisionsFile) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.decisionPlots(w, g); err != nil {
			return nil, err
		}
	}
	for _, g := range r.groupsWith(format.AcceptedFile) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := r.itemScorePlot(w, g); err != nil {
			return nil, err
		}
	}
	if err := r.lossPlots(w); err != nil {
		return nil, err
	}
	sort.SliceStable(w.plots, func(i, j int) bool { return sectionIndex(w.plots[i].Section) < sectionIndex(w.plots[j].Section) })
	return w.plots, nil
}

func sectionIndex(id string) int {
	for i, s := range sections {
		if s.ID == id {
			return i
		}
	}
	return len(sections)
}

type plotWriter struct {
	dir   string
	plots []Plot
}

// add names the next plot's file from its title and registers it.
func (w *plotWriter) add(section, title, caption string, draw func(path string, f Figure) error) error {
	file := fmt.Sprintf("%02d-%s.png", len(w.plots)+1, slug(title))
	if err := draw(filepath.Join(w.dir, file), Figure{Title: title}); err != nil {
		return fmt.Errorf("plot %q: %w", title, err)
	}
	w.plots = append(w.plots, Plot{File: file, Title: title, Caption: caption, Section: section})
	return nil
}

// slug keeps letters, digits, '.', '=' and '-', and turns runs of anything
// else into one '-', so that file names need no escaping in URLs.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		ok := c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '='
		if ok {
			b.WriteRune(c)
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = !ok
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > 80 {
		out = out[:80]
	}
	return out
}

// metric plots one report metric by row. Against the last numeric row
// axis with at least two values it draws one line per value of the other
// row axes; otherwise one point per row on a categorical axis. Error bars
// are the standard deviation over the `over` axes.
func (w *plotWriter) metric(t *Table, mi int, m string) error {
	num := -1
	for a := range t.Axes {
		vals := map[string]bool{}
		ok := true
		for _, r := range t.Rows {
			if _, err := strconv.ParseFloat(r.Labels[a], 64); err != nil {
				ok = false
			}
			vals[r.Labels[a]] = true
		}
		if ok && len(vals) > 1 {
			num = a
		}
	}
	over := "the other axes"
	if len(t.Over) > 0 {
		over = strings.Join(t.Over, ", ")
	}
	caption := fmt.Sprintf("Mean of %s; error bars: standard deviation over %s.", m, over)
	if num < 0 {
		var s Series
		var ticks []string
		for i, r := range t.Rows {
			label := strings.Join(r.Labels, ",")
			if len(t.Axes) == 0 {
				label = "all"
			}
			ticks = append(ticks, label)
			c := r.Cells[mi]
			if c.N > 0 {
				s.X, s.Y, s.Err = append(s.X, float64(i)), append(s.Y, c.Mean), append(s.Err, c.Std)
			}
		}
		title := m + " by " + strings.Join(t.Axes, ",")
		return w.add("metrics", title, caption, func(p string, f Figure) error {
			f.XLabel, f.YLabel = strings.Join(t.Axes, ","), m
			return SaveLines(p, f, []Series{s}, ticks)
		})
	}
	lines := map[string]*Series{}
	var order []string
	for _, r := range t.Rows {
		var rest []string
		for a, l := range r.Labels {
			if a != num {
				rest = append(rest, t.Axes[a]+"="+l)
			}
		}
		name := strings.Join(rest, ",")
		s := lines[name]
		if s == nil {
			s = &Series{Name: name}
			lines[name] = s
			order = append(order, name)
		}
		c := r.Cells[mi]
		if c.N > 0 {
			x, _ := strconv.ParseFloat(r.Labels[num], 64)
			s.X, s.Y, s.Err = append(s.X, x), append(s.Y, c.Mean), append(s.Err, c.Std)
		}
	}
	var series []Series
	for _, name := range order {
		s := lines[name]
		sortSeries(s)
		series = append(series, *s)
	}
	title := m + " vs " + t.Axes[num]
	return w.add("metrics", title, caption, func(p string, f Figure) error {
		f.XLabel, f.YLabel = t.Axes[num], m
		return SaveLines(p, f, series, nil)
	})
}

// sortSeries orders the points of s by X.
func sortSeries(s *Series) {
	idx := make([]int, len(s.X))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.X[idx[a]] < s.X[idx[b]] })
	x, y, e := make([]float64, len(idx)), make([]float64, len(idx)), make([]float64, len(idx))
	for i, j := range idx {
		x[i], y[i], e[i] = s.X[j], s.Y[j], s.Err[j]
	}
	s.X, s.Y, s.Err = x, y, e
}

// decisionPlots draws the acceptance, score and threshold plots of one
// configuration (pooled over its seeds; the threshold plot shows the
// first seed).
func (r *Report) decisionPlots(w *plotWriter, g *group) error {
	var runs, truthRuns [][]Decision
	var first []Decision
	for _, it := range g.items {
		ds, err := r.readDecisions(it)
		if err != nil {
			return err
		}
		if len(ds) == 0 {
			continue
		}
		runs = append(runs, ds)
		if first == nil {
			first = ds
		}
		truth, err := r.poolTruth(it)
		if err != nil {
			return err
		}
		if truth != nil {
			td, err := ByTruth(ds, truth)
			if err != nil {
				return fmt.Errorf("node %q: %w", it.Node.Name(), err)
			}
			truthRuns = append(truthRuns, td)
		}
	}
	if len(runs) == 0 {
		return nil
	}
	seeds := fmt.Sprintf("%d run(s) pooled", len(runs))
	const bins = 20
	if len(truthRuns) > 0 {
		if err := truthPlots(w, g.label, truthRuns, bins); err != nil {
			return err
		}
		if err := r.probePlot(w, g); err != nil {
			return err
		}
	}
	if src := AcceptanceOverTime(runs, BySource, bins); len(src) > 0 {
		err := w.add("acceptance", "acceptance by source: "+g.label,
			"Fraction of offered generated items accepted, per generator source, in "+strconv.Itoa(bins)+" iteration bins; "+seeds+".",
			func(p string, f Figure) error {
				f.XLabel, f.YLabel, f.YMin, f.YMax = "iteration", "acceptance rate", 0, rateTop
				return SaveLines(p, f, src, nil)
			})
		if err != nil {
			return err
		}
	}
	if groups := r.categoryGroups(g.items[0]); len(groups) > 0 {
		if grp := AcceptanceOverTime(runs, ByGroup(groups), bins); len(grp) > 0 {
			err := w.add("acceptance", "acceptance by frequency group: "+g.label,
				"Fraction of offered generated items accepted, per frequency group of their category; "+seeds+".",
				func(p string, f Figure) error {
					f.XLabel, f.YLabel, f.YMin, f.YMax = "iteration", "acceptance rate", 0, rateTop
					return SaveLines(p, f, grp, nil)
				})
			if err != nil {
				return err
			}
		}
	}
	acc, rej := Scores(runs)
	if len(acc)+len(rej) == 0 {
		return nil
	}
	err := w.add("scores", "scores: "+g.label, "Histogram of the scores of accepted and rejected generated batches; "+seeds+".",
		func(p string, f Figure) error {
			f.XLabel, f.YLabel = "score", "batches"
			return SaveHistogram(p, f, []Sample{{"accepted", acc, acceptedColor}, {"rejected", rej, rejectedColor}}, 30)
		})
	if err != nil {
		return err
	}
	return w.add("scores", "threshold and scores: "+g.label, "Score of each generated batch over training, and the threshold in force; first run of the group.",
		func(p string, f Figure) error {
			f.XLabel, f.YLabel = "iteration", "score"
			return SaveThreshold(p, f, first)
		})
}

// truthPlots draws the acceptance of each truth over training and the
// scores of batches by what they held, from decisions whose Sources count
// truths (ByTruth).
func truthPlots(w *plotWriter, label string, runs [][]Decision, bins int) error {
	runsNote := fmt.Sprintf("%d run(s) pooled", len(runs))
	series := AcceptanceOverTime(runs, BySource, bins)
	present := map[string]bool{}
	byName := map[string]Series{}
	for _, s := range series {
		present[s.Name], byName[s.Name] = true, s
	}
	var ordered []Series
	for _, t := range truthOrder(present) {
		ordered = append(ordered, byName[t])
	}
	if len(ordered) > 0 {
		err := w.add("acceptance", "acceptance by truth: "+label,
			"Fraction of offered items of each truth (clean, or the spoil defect type) accepted, in "+strconv.Itoa(bins)+" iteration bins; "+runsNote+".",
			func(p string, f Figure) error {
				f.XLabel, f.YLabel, f.YMin, f.YMax = "iteration", "acceptance rate", 0, rateTop
				return SaveLines(p, f, ordered, nil)
			})
		if err != nil {
			return err
		}
	}
	samples := BatchScoresByTruth(runs)
	if len(samples) == 0 {
		return nil
	}
	return w.add("scores", "batch scores by truth: "+label,
		"Share of each group's batches per score bin: clean = batches of clean items only, a defect type = batches holding at least one item of it; "+runsNote+".",
		func(p string, f Figure) error {
			f.XLabel, f.YLabel, f.Share = "score", "share of batches", true
			return SaveHistogram(p, f, samples, 30)
		})
}

// probePlot draws a train configuration's per-item probe of the online
// score (item_scores.csv) by truth, over its runs.
func (r *Report) probePlot(w *plotWriter, g *group) error {
	by := map[string][]float64{}
	n := 0
	for _, it := range g.items {
		b, ok := r.readFile(it, format.ItemScoresFile)
		if !ok {
			continue
		}
		rows, err := format.ParseItemScores(b)
		if err != nil {
			return fmt.Errorf("node %q: %w", it.Node.Name(), err)
		}
		truth, err := r.poolTruth(it)
		if err != nil || truth == nil {
			return err
		}
		for _, x := range rows {
			if x.PoolItem >= len(truth) {
				return fmt.Errorf("node %q: %s: pool item %d, but truth.csv has %d items", it.Node.Name(), format.ItemScoresFile, x.PoolItem, len(truth))
			}
			by[truth[x.PoolItem]] = append(by[truth[x.PoolItem]], x.Score)
		}
		n++
	}
	if n == 0 {
		return nil
	}
	samples := truthSamples(by)
	return w.add("scores", "probe item scores by truth: "+g.label,
		fmt.Sprintf("Share of each truth's offered items per score bin of the per-item probe of the online score (item_scores.csv: each item alone against the cached real gradient its batch's decision used); %d run(s) pooled.", n),
		func(p string, f Figure) error {
			f.XLabel, f.YLabel, f.Share = "score", "share of offered items", true
			return SaveHistogram(p, f, samples, 30)
		})
}

// itemScorePlot draws, for a score or rescore node that scored one
// spoiled pool, the per-item scores by truth (its first cached run).
func (r *Report) itemScorePlot(w *plotWriter, g *group) error {
	for _, it := range g.items {
		truth, err := r.poolTruth(it)
		if err != nil {
			return err
		}
		if truth == nil {
			continue
		}
		b, ok := r.readFile(it, format.ScoresFile)
		if !ok {
			continue
		}
		a, err := artifact.ReadNPY(bytes.NewReader(b))
		if err != nil || a.DType != "<f8" || len(a.Shape) != 1 {
			return fmt.Errorf("node %q: %s is not a float64 vector (%v)", it.Node.Name(), format.ScoresFile, err)
		}
		samples, err := ItemScoresByTruth(a.F64, truth)
		if err != nil {
			return fmt.Errorf("node %q: %w", it.Node.Name(), err)
		}
		return w.add("scores", "item scores by truth: "+g.label,
			"Share of each truth's pool items per score bin (the node's scores.npy, one score per item); run "+it.Node.Name()+".",
			func(p string, f Figure) error {
				f.XLabel, f.YLabel, f.Share = "score", "share of items", true
				return SaveHistogram(p, f, samples, 30)
			})
	}
	return nil
}

// galleryPlot draws the accepted vs rejected grid of one configuration
// from the gallery of its first run that has a readable one, with the
// per-source acceptance rates of that run's metrics.json.
func (r *Report) galleryPlot(w *plotWriter, g *group) error {
	for _, it := range g.items {
		items, err := r.readGallery(it)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			continue
		}
		var m struct {
			AcceptBySource map[string]float64 `json:"accept_by_source"`
		}
		if b, ok := r.readFile(it, "metrics.json"); ok {
			json.Unmarshal(b, &m) // rates are optional: without them bands show counts only
		}
		caption := fmt.Sprintf("Generated items met in training, up to %d accepted (left, green) and %d rejected (right, red), "+
			"taken evenly over training; one band per generator source, lowest acceptance rate (metrics.json) first; "+
			"pasted instances show their generated crop, dark outside the mask; each tile is labelled with its category.",
			maxGalleryItems, maxGalleryItems)
		for _, x := range items {
			if x.Iteration == 0 && !x.Accepted {
				caption += " The rejected items were left out before training by the scores input."
				break
			}
		}
		truth, err := r.poolTruth(it)
		if err != nil {
			return err
		}
		if truth != nil {
			caption += " Tiles are tinted by their item's truth in the spoiled pool: a defective item is labelled with its defect type on a band of the type's colour (legend under the title), and its ground is a dark shade of it."
		}
		caption += " Run " + it.Node.Name() + "; gallery/gallery.csv in its artifacts lists every tile with its iteration and score."
		return w.add("instances", "accepted vs rejected generated instances: "+g.label, caption, func(p string, f Figure) error {
			return SaveGallery(p, f, items, m.AcceptBySource, truth)
		})
	}
	return nil
}

// maxGalleryItems is the most items of each decision a train node's
// gallery holds.
const maxGalleryItems = format.GalleryK

// categoryGroups finds the category → frequency group map in the
// meta.json of the nearest upstream output that has one ("groups").
func (r *Report) categoryGroups(it *dag.PlanItem) map[string]string {
	items := map[*dag.Node]*dag.PlanItem{}
	for _, x := range r.Plan.Items {
		items[x.Node] = x
	}
	seen := map[*dag.Node]bool{}
	queue := []*dag.Node{it.Node}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, e := range n.Inputs {
			if seen[e.From] {
				continue
			}
			seen[e.From] = true
			queue = append(queue, e.From)
			up := items[e.From]
			if up == nil || up.Entry == nil {
				continue
			}
			for _, f := range up.Entry.Manifest {
				if path.Base(f.Path) != "meta.json" {
					continue
				}
				b, ok := r.readFile(up, f.Path)
				if !ok {
					continue
				}
				var meta struct {
					Groups map[string]string `json:"groups"`
				}
				if json.Unmarshal(b, &meta) == nil && len(meta.Groups) > 0 {
					return meta.Groups
				}
			}
		}
	}
	return nil
}

// lossPlots draws, per node with a train loss.csv, one loss curve per
// configuration, averaged over its seeds at each iteration; and per node
// with val.csv, its validation curve the same way (mask AP for a
// segmentation val set, accuracy for a classification one). A vae-train
// node's loss.csv (format.VAELossHeader) is not plotted; any other
// malformed curve is an error naming the node and the file.
func (r *Report) lossPlots(w *plotWriter) error {
	type curve struct {
		file, section, title, caption string
		column                        func(b []byte) (string, bool)
	}
	curves := []curve{
		{format.LossFile, "loss", "training loss: ", "Training loss per iteration (loss.csv), mean over the runs of each configuration.",
			func(b []byte) (string, bool) {
				head, _, _ := strings.Cut(string(b), "\n")
				return "loss", strings.TrimSpace(head) != strings.Join(format.VAELossHeader, ",")
			}},
		{format.ValFile, "val", "validation: ", "Validation metric (val.csv: mask AP for segmentation, accuracy for classification) against the iteration, mean over the runs of each configuration.",
			func(b []byte) (string, bool) {
				head, _, _ := strings.Cut(string(b), "\n")
				if strings.TrimSpace(head) == strings.Join(format.ValSegHeader, ",") {
					return "val_AP", true
				}
				return "val_accuracy", true
			}},
	}
	for _, c := range curves {
		byBase := map[string][]Series{}
		ylabel := map[string]string{}
		var bases []string
		for _, g := range r.groupsWith(c.file) {
			sum, cnt := map[float64]float64{}, map[float64]int{}
			for _, it := range g.items {
				b, ok := r.readFile(it, c.file)
				if !ok {
					continue
				}
				col, ok := c.column(b)
				if !ok {
					continue
				}
				xs, ys, err := ParseCurve(c.file, b, col)
				if err != nil {
					return fmt.Errorf("node %q: %w", it.Node.Name(), err)
				}
				ylabel[g.base] = col
				for i, x := range xs {
					sum[x] += ys[i]
					cnt[x]++
				}
			}
			if len(sum) == 0 {
				continue
			}
			s := Series{Name: strings.TrimPrefix(g.label, g.base)}
			if s.Name == "" {
				s.Name = g.base
			}
			for x := range sum {
				s.X, s.Y, s.Err = append(s.X, x), append(s.Y, sum[x]/float64(cnt[x])), append(s.Err, 0)
			}
			sortSeries(&s)
			if _, ok := byBase[g.base]; !ok {
				bases = append(bases, g.base)
			}
			byBase[g.base] = append(byBase[g.base], s)
		}
		for _, base := range bases {
			series, y := byBase[base], ylabel[base]
			err := w.add(c.section, c.title+base, c.caption,
				func(p string, f Figure) error {
					f.XLabel, f.YLabel = "iteration", y
					return SaveLines(p, f, series, nil)
				})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// rateTop is the top of the Y axis of rate plots: above 1, so that the
// legend does not cover rates of 1.
const rateTop = 1.2
