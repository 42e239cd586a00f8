package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// showSpec has a baseline row and a numeric axis; the metric is
// 10·x + seed, +1 for method b, so that b − a is exactly 1 for every seed.
const showSpec = `name: showme
matrix:
  method: [a, b]
  x: [1, 2]
  seed: [1, 2]
nodes:
  score:
    kind: command
    params:
      argv: [sh, -c, "echo '{\"m\": '$(( ${x} * 10 + ${seed} + $( [ ${method} = b ] && echo 1 || echo 0 ) ))'}' > {out}/metrics.json"]
report:
  node: score
  rows: [method, x]
  over: [seed]
  metrics: [m]
  baseline: method=a
`

// showGolden compares got with testdata/show/<name>, or rewrites it with
// -update.
func showGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "show", name)
	if *update {
		write(t, path, got)
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./cmd/dagrun -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestShowFormatsAndHTML(t *testing.T) {
	// Not a terminal and no $COLUMNS: the text table is 100 columns wide.
	t.Setenv("COLUMNS", "")
	dir := t.TempDir()
	specPath := filepath.Join(dir, "show.yaml")
	write(t, specPath, showSpec)
	cacheDir := filepath.Join(dir, "cache")
	run := cli(t, dir, "--cache", cacheDir, "-q", specPath)
	if run.code != 0 {
		t.Fatalf("run: exit %d\n%s", run.code, run.stderr)
	}
	// The end of a run prints the text table, as show does by default.
	showGolden(t, "run.txt", run.stdout)
	text := cli(t, dir, "--cache", cacheDir, "show", specPath)
	if text.code != 0 || text.stdout != run.stdout {
		t.Errorf("show: exit %d, output differs from the run's:\n%s", text.code, text.stdout)
	}
	narrow := cli(t, dir, "--cache", cacheDir, "show", "--width", "40", specPath)
	showGolden(t, "width40.txt", narrow.stdout)
	if r := cli(t, dir, "--cache", cacheDir, "show", "--width", "-1", specPath); r.code != 2 {
		t.Errorf("show --width -1: exit %d, want 2", r.code)
	}

	md := cli(t, dir, "--cache", cacheDir, "show", "--format", "md", specPath)
	showGolden(t, "showme.md", md.stdout)
	for _, want := range []string{"| method | x | m | Δ m |", "| a | 1 | 11.50 ± 0.71 | baseline |", "| b | 2 | 22.50 ± 0.71 | +1.00 [+1.00, +1.00] |"} {
		if md.code != 0 || !strings.Contains(md.stdout, want) {
			t.Errorf("show (md): exit %d, lacks %q:\n%s%s", md.code, want, md.stdout, md.stderr)
		}
	}

	js := cli(t, dir, "--cache", cacheDir, "show", "--format", "json", specPath)
	var tab struct {
		Baseline string
		Rows     []struct {
			Labels map[string]string
			Cells  map[string]struct {
				Mean *float64
				N    int
				Diff *struct{ Mean *float64 }
			}
		}
	}
	if err := json.Unmarshal([]byte(js.stdout), &tab); err != nil {
		t.Fatalf("show --format json: %v\n%s", err, js.stdout)
	}
	if len(tab.Rows) != 4 || tab.Baseline != "method=a" {
		t.Fatalf("json: %d rows, baseline %q", len(tab.Rows), tab.Baseline)
	}
	if c := tab.Rows[3].Cells["m"]; tab.Rows[3].Labels["method"] != "b" || c.Diff == nil || c.Diff.Mean == nil || *c.Diff.Mean != 1 {
		t.Errorf("json row 4 = %+v, want method b with diff 1", tab.Rows[3])
	}

	cs := cli(t, dir, "--cache", cacheDir, "show", "--format", "csv", specPath)
	recs, err := csv.NewReader(strings.NewReader(cs.stdout)).ReadAll()
	if err != nil || len(recs) != 5 || recs[0][len(recs[0])-1] != "m_diff_n" {
		t.Errorf("show --format csv: %v\n%s", err, cs.stdout)
	}

	out := filepath.Join(dir, "page")
	if r := cli(t, dir, "--cache", cacheDir, "show", "--html", out, specPath); r.code != 0 || !strings.Contains(r.stderr, "index.html") {
		t.Fatalf("show --html: exit %d\n%s", r.code, r.stderr)
	}
	page, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`<table id="report-table"`, `plots/01-m-vs-x.png`, `artifacts/score-method=b-x=2-seed=2/metrics.json`, "<pre>name: showme"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "artifacts", "score-method=b-x=2-seed=2", "metrics.json")); err != nil {
		t.Errorf("artifact not linked: %v", err)
	}
	// A second --html into the same folder replaces the report; a foreign
	// folder is refused.
	if r := cli(t, dir, "--cache", cacheDir, "show", "--html", out, specPath); r.code != 0 {
		t.Errorf("show --html again: exit %d\n%s", r.code, r.stderr)
	}
	if r := cli(t, dir, "--cache", cacheDir, "show", "--html", dir, specPath); r.code != 3 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("show --html into a foreign folder: exit %d\n%s", r.code, r.stderr)
	}
	plots := cli(t, dir, "--cache", cacheDir, "show", "--plots", filepath.Join(dir, "plots"), specPath)
	if _, err := os.Stat(filepath.Join(dir, "plots", "01-m-vs-x.png")); plots.code != 0 || err != nil {
		t.Errorf("show --plots: exit %d, %v\n%s", plots.code, err, plots.stderr)
	}
	if r := cli(t, dir, "--cache", cacheDir, "show", "--format", "xml", specPath); r.code != 2 {
		t.Errorf("show --format xml: exit %d, want 2", r.code)
	}
}
