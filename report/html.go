package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"dagrun/dag"
)

// marker is the file that marks a folder as written by WriteHTML, so that
// a rewrite may clear its plots/ and artifacts/ folders.
const marker = ".dagrun-report"

// IndexPath returns the page WriteHTML writes into dir.
func IndexPath(dir string) string { return filepath.Join(dir, "index.html") }

// maxGallery bounds the pictures shown inline; the rest stay linked.
const maxGallery = 48

// WriteHTML writes a static report page into dir: index.html with the
// tables (also as table.md, table.csv, table.json), the plots (plots/),
// the pictures found among the outputs, every node with its key, cache
// status and timing, and the spec text (spec.yaml); every cached output
// file is hard-linked (copied across file systems) under
// artifacts/<node>/ and linked relatively, so the folder can be moved or
// served as is. dir must be new, empty or an earlier report folder.
func (r *Report) WriteHTML(ctx context.Context, dir string) error {
	if err := prepareDir(dir); err != nil {
		return err
	}
	plots, err := r.WritePlots(ctx, filepath.Join(dir, "plots"))
	if err != nil {
		return err
	}
	pg := &page{Name: r.Graph.Spec.Name, Generated: "dagrun show", Plots: map[string][]Plot{}}
	for _, p := range plots {
		pg.Plots[p.Section] = append(pg.Plots[p.Section], p)
	}
	for _, s := range sections {
		if len(pg.Plots[s.ID]) > 0 {
			pg.Sections = append(pg.Sections, section{ID: s.ID, Title: s.Title, Plots: pg.Plots[s.ID]})
		}
	}
	for _, ax := range r.Graph.Spec.Matrix {
		pg.Matrix = append(pg.Matrix, ax.Name+": "+strings.Join(ax.Values, ", "))
	}
	if t := r.Table; t != nil {
		if err := r.writeTables(dir); err != nil {
			return err
		}
		pg.Table = t.html()
	}
	if b, err := os.ReadFile(r.Graph.Spec.File); err == nil {
		pg.Spec = string(b)
		if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), b, 0o644); err != nil {
			return fmt.Errorf("write spec copy: %w", err)
		}
		pg.SpecFile = filepath.Base(r.Graph.Spec.File)
	}
	if err := r.artifacts(dir, pg); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, pg); err != nil {
		return fmt.Errorf("render page: %w", err)
	}
	if err := os.WriteFile(IndexPath(dir), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	return nil
}

// prepareDir creates dir, or clears the parts of an earlier report in it;
// a non-empty folder that is not a report is refused.
func prepareDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("open report folder: %w", err)
	case len(ents) > 0:
		if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
			return fmt.Errorf("report folder %q is not empty and holds no earlier report; choose a new or empty folder", dir)
		}
		for _, sub := range []string{"plots", "artifacts"} {
			if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
				return fmt.Errorf("clear earlier report: %w", err)
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report folder: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, marker), []byte("written by dagrun show --html\n"), 0o644)
}

// html returns the page's tables: the views of t, every number formatted
// as in the text table.
func (t *Table) html() *htmlTables {
	fs := t.formats()
	vs, dropped := t.views()
	out := &htmlTables{Note: t.Note()}
	if len(dropped) > 0 {
		out.Note += " Left out, — in every row: " + strings.Join(dropped, ", ") + " (the downloads have every column)."
	}
	if len(vs) == 0 {
		vs = []view{{}}
	}
	for _, v := range vs {
		ht := htmlTable{Head: append([]string{}, t.Axes...)}
		if len(vs) > 1 {
			ht.Title = v.Source
		}
		if len(t.Axes) == 0 {
			ht.Head = []string{"run"}
		}
		for _, c := range v.Cols {
			ht.Head = append(ht.Head, c.header(t))
		}
		for _, r := range t.Rows {
			row := htmlRow{Cells: append([]string{}, t.labels(r)...), Baseline: r.IsBaseline}
			for _, c := range v.Cols {
				cell := r.Cells[c.Metric]
				if c.Diff {
					row.Cells = append(row.Cells, diffText(r, cell, fs[c.Metric]).String())
				} else {
					row.Cells = append(row.Cells, statText(cell.Stat, fs[c.Metric]).String())
				}
			}
			ht.Rows = append(ht.Rows, row)
		}
		out.Views = append(out.Views, ht)
	}
	return out
}

func (r *Report) writeTables(dir string) error {
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"table.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, r.Table) }},
		{"table.csv", func(b *bytes.Buffer) error { return WriteCSV(b, r.Table) }},
		{"table.json", func(b *bytes.Buffer) error { return WriteJSON(b, r.Table) }},
	} {
		var b bytes.Buffer
		if err := f.write(&b); err != nil {
			return fmt.Errorf("render %s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.name), b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.name, err)
		}
	}
	return nil
}

// artifacts links every cached output under dir/artifacts (one folder per
// distinct entry) and fills the node and gallery sections of pg.
func (r *Report) artifacts(dir string, pg *page) error {
	folders := map[string]string{} // entry key → folder under artifacts/
	used := map[string]bool{}
	shown := map[string]bool{} // picture digests in the gallery
	for _, it := range r.Plan.Items {
		row := nodeRow{Name: it.Node.Name(), Kind: it.Node.Kind.Name, Status: it.Status.String(), Key: it.Key}
		if len(it.Key) > 12 {
			row.Short = it.Key[:12]
		}
		if last, ok := r.Last[it.Node.Name()]; ok {
			row.LastRun = last.Status
			if last.Duration > 0 {
				row.LastRun += " in " + roundDur(last.Duration)
			}
		}
		if it.Entry != nil {
			row.Compute = roundDur(it.Entry.Record.Duration)
			folder, ok := folders[it.Key]
			if !ok {
				folder = slug(it.Node.Name())
				if folder == "" {
					folder = "node"
				}
				for i := 2; used[folder]; i++ {
					folder = fmt.Sprintf("%s-%d", slug(it.Node.Name()), i)
				}
				used[folder] = true
				folders[it.Key] = folder
				if err := r.cache.Materialize(it.Entry.Manifest, filepath.Join(dir, "artifacts", folder)); err != nil {
					row.Problem = err.Error()
					folders[it.Key] = ""
				}
			}
			if folder := folders[it.Key]; folder != "" {
				files := append([]string(nil), manifestPaths(it)...)
				for i, p := range files {
					href := artifactURL(folder, p)
					if i < 20 {
						row.Files = append(row.Files, link{Href: href, Text: p})
					}
					if strings.EqualFold(path.Ext(p), ".png") && !shown[it.Entry.Manifest[i].Digest] && len(pg.Gallery) < maxGallery {
						shown[it.Entry.Manifest[i].Digest] = true
						pg.Gallery = append(pg.Gallery, picture{Src: href, Caption: it.Node.Name() + ": " + p})
					}
				}
				if n := len(files) - 20; n > 0 {
					row.More = link{Href: artifactURL(folder, ""), Text: fmt.Sprintf("%d more", n)}
				}
			}
		}
		pg.Nodes = append(pg.Nodes, row)
	}
	sort.SliceStable(pg.Gallery, func(i, j int) bool { return galleryRank(pg.Gallery[i].Caption) < galleryRank(pg.Gallery[j].Caption) })
	return nil
}

// galleryRank puts the pictures that judge generated data (accepted vs
// rejected, kept vs dropped) first.
func galleryRank(caption string) int {
	c := strings.ToLower(caption)
	if strings.Contains(c, "accept") || strings.Contains(c, "reject") || strings.Contains(c, "kept") || strings.Contains(c, "dropped") {
		return 0
	}
	return 1
}

func manifestPaths(it *dag.PlanItem) []string {
	out := make([]string, len(it.Entry.Manifest))
	for i, f := range it.Entry.Manifest {
		out[i] = f.Path
	}
	return out
}

// artifactURL is the relative URL of file p (slash-separated, or "" for
// the folder itself) of an artifact folder, each segment escaped.
func artifactURL(folder, p string) template.URL {
	segs := []string{"artifacts", url.PathEscape(folder)}
	if p != "" && p != "." {
		for _, s := range strings.Split(p, "/") {
			segs = append(segs, url.PathEscape(s))
		}
	} else {
		return template.URL(strings.Join(segs, "/") + "/")
	}
	return template.URL(strings.Join(segs, "/"))
}

func roundDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Millisecond:
		return d.Round(time.Microsecond).String()
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

type page struct {
	Name, Generated string
	Matrix          []string
	Table           *htmlTables
	Plots           map[string][]Plot
	Sections        []section
	Gallery         []picture
	Nodes           []nodeRow
	Spec, SpecFile  string
}

type section struct {
	ID, Title string
	Plots     []Plot
}

// htmlTables is the report table on the page: the views of the table (one
// per source node, columns "—" in every row left out), each in a
// horizontally scrolling box so that a wide one never widens the page.
type htmlTables struct {
	Views []htmlTable
	Note  string
}

type htmlTable struct {
	// Title names the source node when there are several.
	Title string
	Head  []string
	Rows  []htmlRow
}

type htmlRow struct {
	Cells    []string
	Baseline bool
}

type picture struct {
	Src     template.URL
	Caption string
}

type link struct {
	Href template.URL
	Text string
}

type nodeRow struct {
	Name, Kind, Status string
	Key, Short         string
	Compute, LastRun   string
	Files              []link
	More               link
	Problem            string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Name}} — dagrun report</title>
<style>
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1240px; padding: 0 16px; color: #1d2330; background: #fff; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { border-bottom: 1px solid #d8dde6; padding-bottom: 4px; margin-top: 32px; }
nav a { margin-right: 14px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d8dde6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f6; } tr.baseline td { background: #f7f3e3; }
td.num { font-variant-numeric: tabular-nums; }
.note, .muted { color: #5b6475; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 16px; }
.grid.wide { grid-template-columns: 1fr; } .grid.wide img { width: auto; max-width: 100%; }
figure { margin: 0; border: 1px solid #e3e7ee; padding: 6px; background: #fafbfc; }
figure img { width: 100%; height: auto; display: block; }
figcaption { font-size: 12px; color: #39414f; margin-top: 4px; }
pre { background: #f5f7fa; border: 1px solid #e3e7ee; padding: 10px; overflow-x: auto; font-size: 12px; }
code { font-size: 12px; } .files a { margin-right: 8px; white-space: nowrap; } .files { white-space: normal; }
.scroll { overflow-x: auto; max-width: 100%; }
table.report td.num { white-space: nowrap; }
.status-cached { color: #17693a; } .status-run, .status-run\? { color: #a35200; }
</style>
</head>
<body>
<h1>{{.Name}}</h1>
<p class="muted">Report written by <code>{{.Generated}}</code> from the cache alone.{{range .Matrix}} <code>{{.}}</code>{{end}}</p>
<nav>{{if .Table}}<a href="#table">Table</a>{{end}}{{range .Sections}}<a href="#{{.ID}}">{{.Title}}</a>{{end}}{{if .Gallery}}<a href="#pictures">Pictures</a>{{end}}<a href="#nodes">Nodes</a>{{if .SpecFile}}<a href="#spec">Spec</a>{{end}}</nav>
{{with .Table}}
<h2 id="table">Table</h2>
{{range $i, $v := .Views}}{{with $v.Title}}<h3>metrics of <code>{{.}}</code></h3>{{end}}
<div class="scroll"><table{{if eq $i 0}} id="report-table"{{end}} class="report">
<thead><tr>{{range $v.Head}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range $v.Rows}}<tr{{if .Baseline}} class="baseline"{{end}}>{{range .Cells}}<td class="num">{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table></div>
{{end}}<p class="note">{{.Note}} Download: <a href="table.md">Markdown</a> · <a href="table.csv">CSV</a> · <a href="table.json">JSON</a></p>
{{end}}
{{range .Sections}}
<h2 id="{{.ID}}">{{.Title}}</h2>
<div class="grid{{if eq .ID "instances"}} wide{{end}}">{{range .Plots}}
<figure><a href="plots/{{.File}}"><img src="plots/{{.File}}" alt="{{.Title}}"></a><figcaption><b>{{.Title}}</b>. {{.Caption}}</figcaption></figure>{{end}}
</div>
{{end}}
{{if .Gallery}}
<h2 id="pictures">Pictures</h2>
<div class="grid">{{range .Gallery}}
<figure><a href="{{.Src}}"><img src="{{.Src}}" alt="{{.Caption}}"></a><figcaption>{{.Caption}}</figcaption></figure>{{end}}
</div>
{{end}}
<h2 id="nodes">Nodes</h2>
<div class="scroll"><table id="nodes-table">
<thead><tr><th>node</th><th>kind</th><th>status</th><th>key</th><th>compute</th><th>last run</th><th>artifacts</th></tr></thead>
<tbody>{{range .Nodes}}<tr><td><code>{{.Name}}</code></td><td>{{.Kind}}</td><td class="status-{{.Status}}">{{.Status}}</td><td>{{if .Key}}<code title="{{.Key}}">{{.Short}}</code>{{else}}—{{end}}</td><td>{{.Compute}}</td><td>{{.LastRun}}</td><td class="files">{{range .Files}}<a href="{{.Href}}">{{.Text}}</a>{{end}}{{if .More.Text}}<a href="{{.More.Href}}">{{.More.Text}}</a>{{end}}{{if .Problem}}<span class="muted">{{.Problem}}</span>{{end}}</td></tr>
{{end}}</tbody>
</table></div>
{{if .SpecFile}}
<h2 id="spec">Spec <a href="spec.yaml" class="muted">{{.SpecFile}}</a></h2>
<pre>{{.Spec}}</pre>
{{end}}
<script>
// Marks images that failed to load, for readers and for the browser test.
window.addEventListener("load", function () {
  var imgs = document.images, broken = 0;
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) { imgs[i].className += " broken"; broken++; }
  }
  document.body.setAttribute("data-images", String(imgs.length));
  document.body.setAttribute("data-broken-images", String(broken));
  // How far the page is wider than the window: 0 unless something (a wide
  // table outside its scrolling box) overflows.
  var root = document.documentElement;
  document.body.setAttribute("data-page-overflow", String(Math.max(0, root.scrollWidth - root.clientWidth)));
});
</script>
</body>
</html>
`))
