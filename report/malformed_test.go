package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/command"
	"dagrun/spec"
)

// collectOne runs a one-node spec whose command writes files with sh, and
// collects its report.
func collectOne(t *testing.T, script string) *Report {
	t.Helper()
	dir := t.TempDir()
	src := "name: bad\nnodes:\n  train:\n    kind: command\n    params:\n      argv: [sh, -c, " + strconvQuote(script) + "]\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := spec.Load(filepath.Join(dir, "bad.yaml"), spec.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, err := dag.Build(s, nodes.NewRegistry(command.Kind()))
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(filepath.Join(dir, "cache"), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	sum, err := (&dag.Runner{Cache: c, Opts: dag.Options{Jobs: 1}}).Run(ctx, g)
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
	return r
}

// strconvQuote quotes s as a YAML double-quoted scalar.
func strconvQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}

// TestMalformedOutputsAreErrors: a decisions.csv or gallery that does not
// parse makes WritePlots fail with the node and the file named, instead
// of leaving its plot out; well-formed files give their plots.
func TestMalformedOutputsAreErrors(t *testing.T) {
	good := "printf 'iteration,score,threshold,accepted,sources,categories,items\\n1,0.5,0.1,true,g=1,cat=1,0\\n2,-0.5,0.1,false,g=1,cat=1,1\\n' > {out}/decisions.csv"
	for _, c := range []struct{ name, script, want string }{
		{"bad cell", "printf 'iteration,score,threshold,accepted,sources,categories,items\\n1,high,,true,,,\\n' > {out}/decisions.csv", `node "train": read decisions.csv: row 2: score: "high" is not a number`},
		{"missing column", "printf 'iteration,accepted\\n1,true\\n' > {out}/decisions.csv", `node "train": read decisions.csv: header "iteration,accepted" lacks column "score"`},
		{"loss row", "printf 'iteration,loss\\n1,0.5\\n2,oops\\n' > {out}/loss.csv", `node "train": read loss.csv: row 3: loss: "oops" is not a finite number`},
		{"loss header", "printf 'step,loss\\n1,0.5\\n' > {out}/loss.csv", `node "train": read loss.csv: header "step,loss"`},
		{"val row", "printf 'iteration,val_loss,val_accuracy\\n5,0.5\\n' > {out}/val.csv", `node "train": read val.csv: row 2 has 2 fields`},
		{"gallery without arrays", good + " && mkdir {out}/gallery && printf 'iteration,accepted,score,threshold,source,category,item,pool_item\\n' > {out}/gallery/gallery.csv", `node "train": gallery/gallery.csv without gallery/images.npy`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := collectOne(t, c.script)
			_, err := r.WritePlots(context.Background(), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("WritePlots error = %v, want %q", err, c.want)
			}
		})
	}
	r := collectOne(t, good)
	plots, err := r.WritePlots(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(plots) == 0 {
		t.Error("a well-formed decisions.csv gave no plot")
	}
}

// TestCurvePlots: a well-formed loss.csv and val.csv each give a plot; a
// vae-train loss.csv (another header) gives none and no error.
func TestCurvePlots(t *testing.T) {
	r := collectOne(t, "printf 'iteration,loss\\n1,0.5\\n2,0.25\\n' > {out}/loss.csv && "+
		"printf 'iteration,val_loss,val_accuracy,val_AP,val_AP50,val_AP75,val_APr,val_APc,val_APf\\n2,1,0.5,0.1,0.2,0.05,-1,0.1,0.2\\n' > {out}/val.csv")
	plots, err := r.WritePlots(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, p := range plots {
		sections = append(sections, p.Section+": "+p.Title)
	}
	if len(plots) != 2 || plots[0].Title != "training loss: train" || plots[1].Title != "validation: train" {
		t.Errorf("plots %q, want the training loss and the validation curve", sections)
	}
	r = collectOne(t, "printf 'phase,iteration,recon,kl,loss\\ntrain,1,0.5,0.1,0.6\\n' > {out}/loss.csv")
	if plots, err := r.WritePlots(context.Background(), t.TempDir()); err != nil || len(plots) != 0 {
		t.Errorf("vae loss.csv: plots %v, error %v; want none and no error", plots, err)
	}
}
