package train

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"dagrun/format"
	"dagrun/lib/metrics"
	"dagrun/lib/nn"
)

// readVal reads a train output's val.csv with format's strict reader.
func readVal(t *testing.T, dir string) ([]format.ValRow, bool) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, format.ValFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, seg, err := format.ParseVal(b)
	if err != nil {
		t.Fatal(err)
	}
	return rows, seg
}

// TestKeepBest: with keep best the output model is the evaluated one with
// the highest val metric (the earliest among equals): metrics.json names
// its iteration and repeats its val.csv row, and the saved weights give
// that row again; with keep last, the last evaluation is kept.
func TestKeepBest(t *testing.T) {
	cls := writeClassification(t, 48, 31)
	val := writeClassification(t, 40, 32)
	for _, keep := range []string{KeepLast, KeepBest} {
		p := DefaultParams()
		p.Arch, p.Hidden, p.Iterations, p.BatchSize, p.Warmup, p.EvalEvery, p.Seed = "mlp", []int{8}, 60, 8, 2, 3, 4
		p.LR, p.Keep = 0.5, keep // a high rate, so that the val accuracy goes up and down
		env, _ := newEnv(t, cls, val)
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		rows, seg := readVal(t, env.OutDir)
		if seg || len(rows) != 20 || rows[len(rows)-1].Iteration != 60 {
			t.Fatalf("%s: val.csv has %d rows (segmentation %v), want 20 up to iteration 60", keep, len(rows), seg)
		}
		want := len(rows) - 1
		if keep == KeepBest {
			want = 0
			for i, r := range rows {
				if r.Accuracy > rows[want].Accuracy {
					want = i
				}
			}
			if want == len(rows)-1 {
				t.Errorf("the best evaluation is the last: the check needs an earlier best")
			}
		}
		m := readMetrics(t, env.OutDir)
		if m.Keep != keep || m.KeptIteration == nil || *m.KeptIteration != rows[want].Iteration ||
			*m.ValAccuracy != rows[want].Accuracy || *m.ValLoss != rows[want].Loss || m.ValAP != nil {
			t.Errorf("%s: metrics keep %q iteration %v acc %v; want iteration %d acc %v", keep, m.Keep, m.KeptIteration, m.ValAccuracy, rows[want].Iteration, rows[want].Accuracy)
		}
		model, err := nn.Load(filepath.Join(env.OutDir, "model"))
		if err != nil {
			t.Fatal(err)
		}
		ds, _, _ := loadDataset(val)
		vl, va, err := Evaluate(context.Background(), model, ds, p.BatchSize)
		if err != nil {
			t.Fatal(err)
		}
		if vl != rows[want].Loss || va != rows[want].Accuracy {
			t.Errorf("%s: saved model scores loss %v acc %v on val, the kept row says %v %v", keep, vl, va, rows[want].Loss, rows[want].Accuracy)
		}
	}
	// keep best needs the val input.
	p := DefaultParams()
	p.Iterations, p.Keep = 2, KeepBest
	env, _ := newEnv(t, cls, "")
	if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), "keep best needs a val input") {
		t.Errorf("keep best without val: %v", err)
	}
}

// TestValAP: a segmentation val set gets mask AP columns in val.csv, and
// the AP of the saved model is the one evaluate's way of scoring gives
// (metrics.SegmentationEval over model.Predict in batches of evaluate's
// default 64, ground truth from instances.npy), for both instance modes.
func TestValAP(t *testing.T) {
	seg := writeSegmentation(t, 24, 41)
	val := writeSegmentation(t, 30, 42)
	for _, mode := range []string{metrics.InstancesByClass, metrics.InstancesByForeground} {
		p := DefaultParams()
		p.Iterations, p.BatchSize, p.Warmup, p.EvalEvery, p.Seed = 30, 8, 3, 10, 5
		p.Val.Instances = mode
		env, _ := newEnv(t, seg, val)
		if err := run(t, p, env, nil); err != nil {
			t.Fatal(err)
		}
		rows, isSeg := readVal(t, env.OutDir)
		if !isSeg || len(rows) != 3 {
			t.Fatalf("%s: val.csv: %d rows, segmentation %v", mode, len(rows), isSeg)
		}
		last := rows[len(rows)-1]
		m := readMetrics(t, env.OutDir)
		if m.ValAP == nil || *m.ValAP != last.AP || *m.ValAPr != last.APr || *m.ValAPc != last.APc || *m.ValAPf != last.APf || *m.KeptIteration != 30 {
			t.Errorf("%s: metrics val AP %v, val.csv's last row %+v", mode, m.ValAP, last)
		}
		model, err := nn.Load(filepath.Join(env.OutDir, "model"))
		if err != nil {
			t.Fatal(err)
		}
		d, err := format.LoadSegmentation(val)
		if err != nil {
			t.Fatal(err)
		}
		gt, err := metrics.GroundTruth(d.Semantic, d.Instances, d.N, d.H, d.W)
		if err != nil {
			t.Fatal(err)
		}
		ev := &metrics.SegmentationEval{H: d.H, W: d.W, Categories: 3, Groups: map[int]string{1: metrics.Rare, 2: metrics.Common, 3: metrics.Frequent},
			Mode: mode, Protocol: metrics.COCO}
		hw := d.H * d.W
		for lo := 0; lo < d.N; lo += 64 {
			k := min(64, d.N-lo)
			x := make([]float32, k*hw)
			for j, v := range d.Images[lo*hw : (lo+k)*hw] {
				x[j] = float32(v) / 255
			}
			probs, err := model.Predict(x)
			if err != nil {
				t.Fatal(err)
			}
			for i := range k {
				if err := ev.Add(lo+i, probs[i*4*hw:(i+1)*4*hw], d.Semantic[(lo+i)*hw:(lo+i+1)*hw]); err != nil {
					t.Fatal(err)
				}
			}
		}
		sc, err := ev.Score(gt)
		if err != nil {
			t.Fatal(err)
		}
		if sc.AP != last.AP || sc.AP50 != last.AP50 || sc.APr != last.APr || sc.APc != last.APc || sc.APf != last.APf || sc.PixelAccuracy != last.Accuracy {
			t.Errorf("%s: evaluate's way gives AP %v AP50 %v APr %v APc %v APf %v pixel acc %v; val.csv %+v", mode, sc.AP, sc.AP50, sc.APr, sc.APc, sc.APf, sc.PixelAccuracy, last)
		}
		if last.AP <= 0 {
			t.Errorf("%s: val AP %v: the check needs detections", mode, last.AP)
		}
	}
}

func TestValParamsErrors(t *testing.T) {
	for _, c := range []struct {
		edit func(*Params)
		want string
	}{
		{func(p *Params) { p.Keep = "first" }, `keep "first"`},
		{func(p *Params) { p.Val.Instances = "pixels" }, `val: instances "pixels"`},
		{func(p *Params) { p.Val.Protocol = "voc" }, `val: protocol "voc"`},
		{func(p *Params) { p.Val.MinPixels = -1 }, "val: min_pixels -1"},
		{func(p *Params) { p.Augment.Scale = []float64{2} }, "augment: scale"},
		{func(p *Params) { p.Select.RealGrad = "all" }, `real_grad "all"`},
		{func(p *Params) { p.Select.RealGradN = 0 }, "real_grad_n 0"},
	} {
		p := DefaultParams()
		c.edit(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want it to mention %q", err, c.want)
		}
	}
}

// TestEvalSchedule: the last iteration always; every eval_every-th; evals
// evenly spaced points at ⌈k·T/evals⌉; the union of both.
func TestEvalSchedule(t *testing.T) {
	at := func(p Params) []int {
		var out []int
		for it := 1; it <= p.Iterations; it++ {
			if p.evalAfter(it) {
				out = append(out, it)
			}
		}
		return out
	}
	for _, c := range []struct {
		iters, every, evals int
		want                []int
	}{
		{10, 0, 0, []int{10}},
		{10, 4, 0, []int{4, 8, 10}},
		{10, 0, 4, []int{3, 5, 8, 10}},
		{10, 5, 4, []int{3, 5, 8, 10}},
		{16000, 0, 16, nil},
		{3, 0, 5, []int{1, 2, 3}},
	} {
		p := Params{Iterations: c.iters, EvalEvery: c.every, Evals: c.evals}
		got := at(p)
		if c.want == nil {
			if len(got) != 16 || got[0] != 1000 || got[15] != 16000 {
				t.Errorf("16000 iterations, 16 evals: %v", got)
			}
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d iterations, eval_every %d, evals %d: %v, want %v", c.iters, c.every, c.evals, got, c.want)
		}
	}
}
