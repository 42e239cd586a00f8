package report

import (
	"context"
	"os"
	"path"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/spec"
)

// Report is what `dagrun show` renders, gathered from the cache alone: the
// plan (every node with its key and cache status), the spec's last
// recorded run, and the report table.
type Report struct {
	Graph *dag.Graph
	Plan  *dag.Plan
	// Table is nil when the spec has no report section.
	Table *Table
	// Last maps node names to their record in the spec's last run.
	Last  map[string]cache.RunNode
	cache *cache.Cache
}

// Collect reads what the report of g needs from c; it runs nothing.
func Collect(ctx context.Context, g *dag.Graph, c *cache.Cache) (*Report, error) {
	p, err := dag.MakePlan(ctx, g, c, "")
	if err != nil {
		return nil, err
	}
	last, err := c.LastRun(ctx, g.Spec.Name)
	if err != nil {
		return nil, err
	}
	r := &Report{Graph: g, Plan: p, Last: last, cache: c}
	if rep := g.Spec.Report; rep != nil {
		if r.Table, err = Tabulate(rep, observations(rep, p)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// observations returns one Observation per instance of the report node, in
// plan (spec) order, holding each metric column read from the instance of
// its source node in the same cell (spec.ReportSource.Instances). An
// observation is cached when any of its sources is; a metric whose source is
// not cached is left out, so that it counts as not observed.
func observations(rep *spec.Report, p *dag.Plan) []Observation {
	byName := make(map[string]*dag.PlanItem, len(p.Items))
	for _, it := range p.Items {
		byName[it.Node.Name()] = it
	}
	var obs []Observation
	for _, it := range p.Items {
		if it.Node.Spec.Base != rep.Node {
			continue
		}
		name := it.Node.Name()
		o := Observation{Node: name, Cell: it.Node.Spec.Cell, Metrics: map[string]float64{}}
		for i, m := range rep.Metrics {
			src := it
			if i < len(rep.From) && rep.From[i] < len(rep.Sources) {
				src = byName[rep.Sources[rep.From[i]].Instances[name]]
			}
			if src == nil || src.Entry == nil {
				continue
			}
			o.Cached = true
			if v, ok := src.Entry.Record.Metrics[m]; ok {
				o.Metrics[m] = v
			}
		}
		if len(rep.Metrics) == 0 {
			o.Cached = it.Entry != nil
		}
		obs = append(obs, o)
	}
	return obs
}

// readFile returns the content of the output file called name (a path in
// the manifest, or the base name of one) of a cached item; ok is false
// when the item is not cached, has no such file, or its blob is unreadable:
// the report shows what exists and skips the rest.
func (r *Report) readFile(it *dag.PlanItem, name string) (b []byte, ok bool) {
	if it.Entry == nil {
		return nil, false
	}
	for _, f := range it.Entry.Manifest {
		if f.Path == name || path.Base(f.Path) == name {
			p := r.cache.BlobPath(f.Digest)
			if p == "" {
				return nil, false
			}
			b, err := os.ReadFile(p)
			return b, err == nil
		}
	}
	return nil, false
}
