package train

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/format"
)

// TestItemScoresProbe: select.item_scores writes each offered item's own
// score and changes nothing else: every other output is byte-identical to
// the run without it. With one generated item per batch, an item's score
// is its batch's, so the probe must give the decision's score (up to the
// cache's rounding to float32). On segmentation it is refused.
func TestItemScoresProbe(t *testing.T) {
	cls := writeClassification(t, 48, 1)
	pool := writeClassification(t, 40, 2)
	for _, batch := range []int{1, 5} {
		p := smallParams(ModeBSGAL, 12)
		p.Select.Batch = batch
		p.Select.Threshold.Window = 5
		outs := map[bool]string{}
		for _, probe := range []bool{false, true} {
			q := p
			q.Select.ItemScores = probe
			env, _ := newEnv(t, cls, "")
			env.Inputs["pool"] = []string{pool}
			if err := run(t, q, env, nil); err != nil {
				t.Fatal(err)
			}
			outs[probe] = env.OutDir
		}
		err := filepath.WalkDir(outs[false], func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(outs[false], path)
			a, _ := os.ReadFile(path)
			b, err := os.ReadFile(filepath.Join(outs[true], rel))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("batch %d: %s differs with the probe (%v)", batch, rel, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(outs[false], format.ItemScoresFile)); err == nil {
			t.Errorf("batch %d: %s written without the probe", batch, format.ItemScoresFile)
		}
		b, err := os.ReadFile(filepath.Join(outs[true], format.ItemScoresFile))
		if err != nil {
			t.Fatal(err)
		}
		rows, err := format.ParseItemScores(b)
		if err != nil {
			t.Fatal(err)
		}
		db, _ := os.ReadFile(filepath.Join(outs[true], format.DecisionsFile))
		ds, err := format.ParseDecisions(db)
		if err != nil {
			t.Fatal(err)
		}
		k := 0
		distinct := map[float64]bool{}
		for _, d := range ds {
			for _, item := range d.Items {
				if k >= len(rows) || rows[k].Iteration != d.Iteration || rows[k].PoolItem != item {
					t.Fatalf("batch %d: item score row %d does not follow decision %d's item %d: %+v", batch, k, d.Iteration, item, rows[min(k, len(rows)-1)])
				}
				if batch == 1 && d.Iteration > 1 && math.Abs(rows[k].Score-d.Score) > 1e-5*math.Max(1, math.Abs(d.Score)) {
					t.Errorf("iteration %d: the item's score %v, its batch's %v", d.Iteration, rows[k].Score, d.Score)
				}
				distinct[rows[k].Score] = true
				k++
			}
		}
		if k != len(rows) || k == 0 || len(distinct) < k/2 {
			t.Errorf("batch %d: %d rows for %d offered items, %d distinct scores", batch, len(rows), k, len(distinct))
		}
	}
	seg := writeSegmentation(t, 6, 61)
	p := smallParams(ModeBSGAL, 2)
	p.Arch, p.Hidden, p.Select.ItemScores = "fcn", nil, true
	env, _ := newEnv(t, seg, "")
	if err := run(t, p, env, nil); err == nil || !strings.Contains(err.Error(), "classification pools only") {
		t.Errorf("segmentation with item_scores: err = %v", err)
	}
}
