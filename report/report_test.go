package report

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/command"
	"dagrun/nodes/file"
	"dagrun/spec"
)

// synthSpec stands in for a BSGAL experiment with shell commands: a data
// node whose meta.json names frequency groups, a train node writing
// decisions.csv, loss.csv, a kept-vs-dropped picture and, for bsgal, a
// gallery of generated items with their sources' acceptance rates in
// metrics.json (the fixture of galleryFixture), and an evaluate
// node whose ap is 0.1·amount/10 + 0.01·seed, plus 0.05 for bsgal. The
// report reads ap from evaluate and an acceptance rate from train.
const synthSpec = `name: synth
matrix:
  method: [none, bsgal]
  amount: [10, 50]
  seed: [1, 2, 3]
nodes:
  grid:
    kind: file
    params: {path: grid.png}
  gal:
    kind: file
    params: {path: gallery}
  data:
    kind: command
    params:
      argv: [sh, -c, "printf '{\"groups\": {\"cat\": \"rare\", \"dog\": \"frequent\"}}' > {out}/meta.json"]
  train:
    kind: command
    inputs: {train: data, grid: grid, gal: gal}
    params:
      argv:
        - sh
        - -c
        - |
          cp {in.grid}/grid.png {out}/kept_vs_dropped.png
          if [ ${method} = bsgal ]; then
            mkdir {out}/gallery && cp {in.gal}/* {out}/gallery/
            printf '{"accept_by_source": {"good": 0.75, "bad": 0.1}}' > {out}/metrics.json
          fi
          awk -v seed=${seed} -v m=${method} -v amt=${amount} 'BEGIN {
            srand(seed); print "iteration,score,threshold,accepted,sources,categories,items" > "{out}/decisions.csv"
            print "iteration,loss" > "{out}/loss.csv"
            for (i = 1; i <= 120; i++) {
              printf "%d,%.4f\n", i, 2 * exp(-i / 40) + rand() * 0.1 >> "{out}/loss.csv"
              if (m == "none") continue
              s = rand() * 2 - 1; t = -0.05 + i / 600
              printf "%d,%.4f,%.4f,%s,vae=%d;noise=1,cat=1;dog=%d,\n", i, s, t, (s >= t ? "true" : "false"), 1 + i % 3, 1 + i % 2 >> "{out}/decisions.csv"
            } }'
  evaluate:
    kind: command
    inputs: {model: train}
    params:
      argv: [sh, -c, "awk -v s=${seed} -v a=${amount} -v m=${method} 'BEGIN { printf \"{\\\"ap\\\": %.4f}\\n\", a / 100 + s / 100 + (m == \"bsgal\" ? 0.05 : 0) }' > {out}/metrics.json"]
report:
  node: evaluate
  rows: [method, amount]
  over: [seed]
  metrics:
    evaluate: [ap]
    train: [accept_by_source.good]
  baseline: method=none
`

// runSynth writes the synthetic spec and its picture into a temp folder,
// runs it into a fresh cache and returns the collected report.
func runSynth(t testing.TB) (*Report, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "synth.yaml"), []byte(synthSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := range 40 {
			img.Set(x, y, color.RGBA{R: uint8(x * 6), G: uint8(y * 12), B: 90, A: 255})
		}
	}
	f, err := os.Create(filepath.Join(dir, "grid.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	writeGalleryDir(t, filepath.Join(dir, "gallery"))
	s, err := spec.Load(filepath.Join(dir, "synth.yaml"), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := dag.Build(s, nodes.NewRegistry(command.Kind(), file.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 2}}).Run(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if err := sum.Err(); err != nil {
		t.Fatal(err)
	}
	r, err := Collect(ctx, g, c)
	if err != nil {
		t.Fatal(err)
	}
	return r, dir
}

func TestCollectTable(t *testing.T) {
	r, _ := runSynth(t)
	tab := r.Table
	if len(tab.Rows) != 4 {
		t.Fatalf("%d rows, want 4", len(tab.Rows))
	}
	// Independent computation from the formula in the spec: for bsgal at
	// amount a, ap = a/100 + s/100 + 0.05 over seeds 1..3, mean a/100 +
	// 0.07; the paired difference with none is exactly 0.05 for every seed,
	// so its interval has zero width.
	for _, row := range tab.Rows {
		a := map[string]float64{"10": 0.10, "50": 0.50}[row.Labels[1]]
		want := a + 0.02
		if row.Labels[0] == "bsgal" {
			want += 0.05
		}
		c := row.Cells[0]
		if c.N != 3 || math.Abs(c.Mean-want) > 1e-9 || math.Abs(c.Std-0.01) > 1e-9 {
			t.Errorf("row %v: %v ± %v over %d, want %v ± 0.01 over 3", row.Labels, c.Mean, c.Std, c.N, want)
		}
		// The second column comes from the train node of the same cell,
		// which writes metrics.json only for bsgal.
		acc := row.Cells[1]
		if row.Labels[0] == "bsgal" && (acc.N != 3 || acc.Want != 3 || acc.Mean != 0.75 || acc.Std != 0) {
			t.Errorf("row %v: accept_by_source.good %+v, want 0.75 over 3 of 3", row.Labels, acc.Stat)
		}
		if row.Labels[0] == "none" && (acc.N != 0 || acc.Want != 3) {
			t.Errorf("row %v: accept_by_source.good %+v, want nothing observed of 3", row.Labels, acc.Stat)
		}
		if row.Labels[0] == "none" {
			if !row.IsBaseline {
				t.Errorf("row %v is not its own baseline", row.Labels)
			}
			continue
		}
		if d := c.Diff; d == nil || d.N != 3 || math.Abs(d.Mean-0.05) > 1e-9 || math.Abs(d.Hi-d.Lo) > 1e-9 {
			t.Errorf("row %v: diff %+v, want 0.05 with a zero-width interval over 3 pairs", row.Labels, d)
		}
		if got, want := strings.Join(row.BaselineLabels, ","), "none,"+row.Labels[1]; got != want {
			t.Errorf("row %v compared with %q, want %q", row.Labels, got, want)
		}
	}
}

func TestWritePlotsFromCache(t *testing.T) {
	r, dir := runSynth(t)
	out := filepath.Join(dir, "plots")
	plots, err := r.WritePlots(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, p := range plots {
		titles = append(titles, p.Title)
		if p.Section == "instances" {
			checkPNG(t, filepath.Join(out, p.File), 0, 0) // sized by its items
		} else {
			checkPNG(t, filepath.Join(out, p.File), 640, 400)
		}
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{
		"ap vs amount",
		"accept_by_source.good vs amount",
		"acceptance by source: train[method=bsgal,amount=10]",
		"acceptance by frequency group: train[method=bsgal,amount=50]",
		"scores: train[method=bsgal,amount=10]",
		"threshold and scores: train[method=bsgal,amount=50]",
		"training loss: train",
		"accepted vs rejected generated instances: train[method=bsgal,amount=10]",
		"accepted vs rejected generated instances: train[method=bsgal,amount=50]",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no plot %q among:\n%s", want, all)
		}
	}
	// method=none has no decisions: no acceptance plots for it.
	if strings.Contains(all, "acceptance by source: train[method=none") || strings.Contains(all, "instances: train[method=none") {
		t.Errorf("acceptance plot for a run without decisions:\n%s", all)
	}
	// 2 metrics + 2 configurations × (4 decision plots + 1 gallery) + 1
	// loss plot.
	if len(plots) != 13 {
		t.Errorf("%d plots, want 13:\n%s", len(plots), all)
	}
	if plots[2].Section != "instances" {
		t.Errorf("plot 3 is in section %q, want the galleries right after the metrics", plots[2].Section)
	}
}

func TestWriteHTMLRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := prepareDir(dir)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("prepareDir on a foreign folder: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Errorf("foreign file gone: %v", err)
	}
}

// BenchmarkWritePlots measures regenerating every plot of the synthetic
// experiment from the cache (13 plots per op).
func BenchmarkWritePlots(b *testing.B) {
	r, dir := runSynth(b)
	out := filepath.Join(dir, "plots")
	for b.Loop() {
		if _, err := r.WritePlots(context.Background(), out); err != nil {
			b.Fatal(err)
		}
	}
}
