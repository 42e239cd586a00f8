package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"dagrun/spec"
)

func obs(method, seed string, ap float64, cached bool) Observation {
	return Observation{
		Node:    "eval[method=" + method + ",seed=" + seed + "]",
		Cell:    []spec.AxisValue{{Axis: "method", Value: method}, {Axis: "seed", Value: seed}},
		Cached:  cached,
		Metrics: map[string]float64{"ap": ap},
	}
}

// The same numbers as TestPairedHandComputed, but arriving as grid cells in
// shuffled seed order: pairing must go by seed value, not by position.
func TestTabulatePairsBySeed(t *testing.T) {
	rep := &spec.Report{Node: "eval", Rows: []string{"method"}, Over: []string{"seed"}, Metrics: []string{"ap"}, Baseline: "method=none"}
	tab, err := Tabulate(rep, []Observation{
		obs("none", "1", 0.50, true), obs("none", "2", 0.52, true), obs("none", "3", 0.48, true), obs("none", "4", 0.9, true),
		obs("bsgal", "3", 0.50, true), obs("bsgal", "1", 0.55, true), obs("bsgal", "2", 0.56, true), obs("bsgal", "4", 0, false),
		obs("all", "1", 0.40, true),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rows) != 3 {
		t.Fatalf("%d rows, want 3", len(tab.Rows))
	}
	none, bsgal, all := tab.Rows[0], tab.Rows[1], tab.Rows[2]
	if !none.IsBaseline || none.Cells[0].Diff != nil {
		t.Errorf("baseline row: IsBaseline %v, Diff %v", none.IsBaseline, none.Cells[0].Diff)
	}
	c := bsgal.Cells[0]
	if c.N != 3 || c.Want != 4 {
		t.Errorf("bsgal: n %d of %d, want 3 of 4", c.N, c.Want)
	}
	if c.Diff == nil || c.Diff.N != 3 || math.Abs(c.Diff.Mean-0.0366667) > 1e-6 || math.Abs(c.Diff.Lo+0.0012792) > 1e-6 {
		t.Errorf("bsgal diff = %+v, want mean 0.0366667, lo -0.0012792 over 3 pairs", c.Diff)
	}
	if d := all.Cells[0].Diff; d == nil || d.N != 1 || math.Abs(d.Mean+0.1) > 1e-12 {
		t.Errorf("all diff = %+v, want -0.1 over 1 pair", d)
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, tab); err != nil {
		t.Fatal(err)
	}
	// One precision for the column, from its stds (0.201 and 0.032, lower
	// median 0.032: three decimals), for means and differences alike.
	for _, want := range []string{"| method | ap | Δ ap |", "| none | 0.600 ± 0.201 | baseline |", "| bsgal | 0.537 ± 0.032 (3/4) | +0.037 [-0.001, +0.075] |", "| all | 0.400 | -0.100 (n=1) |", "paired difference against method=none"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	var cb bytes.Buffer
	if err := WriteCSV(&cb, tab); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], ","), "method,ap_mean,ap_std,ap_n,ap_diff,ap_diff_lo,ap_diff_hi,ap_diff_n"; got != want {
		t.Errorf("csv header = %q, want %q", got, want)
	}
	if got := recs[2][7]; got != "3" {
		t.Errorf("csv bsgal diff n = %q, want 3", got)
	}

	var jb bytes.Buffer
	if err := WriteJSON(&jb, tab); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Rows []struct {
			Labels map[string]string
			Cells  map[string]struct {
				N    int
				Diff *struct {
					Mean, Lo, Hi *float64
					N            int
				}
			}
		}
	}
	if err := json.Unmarshal(jb.Bytes(), &back); err != nil {
		t.Fatalf("json: %v\n%s", err, jb.String())
	}
	d := back.Rows[1].Cells["ap"].Diff
	if back.Rows[1].Labels["method"] != "bsgal" || d == nil || d.Hi == nil || math.Abs(*d.Hi-0.0746125) > 1e-6 {
		t.Errorf("json bsgal row: %+v", back.Rows[1])
	}
	if d := back.Rows[2].Cells["ap"].Diff; d == nil || d.Lo != nil {
		t.Errorf("json: one pair must have no interval, got %+v", d)
	}
}

// With two row axes and a baseline naming one, each row is compared with
// the baseline's row at the same value of the other axis (fig5: each
// amount against none at that amount).
func TestTabulateBaselinePerOtherAxis(t *testing.T) {
	rep := &spec.Report{Node: "eval", Rows: []string{"method", "amount"}, Over: []string{"seed"}, Metrics: []string{"ap"}, Baseline: "method=all"}
	o := func(method, amount, seed string, v float64) Observation {
		return Observation{Cached: true, Metrics: map[string]float64{"ap": v},
			Cell: []spec.AxisValue{{Axis: "method", Value: method}, {Axis: "amount", Value: amount}, {Axis: "seed", Value: seed}}}
	}
	tab, err := Tabulate(rep, []Observation{
		o("all", "10", "1", 1), o("all", "10", "2", 2), o("all", "50", "1", 10), o("all", "50", "2", 20),
		o("bsgal", "10", "1", 2), o("bsgal", "10", "2", 4), o("bsgal", "50", "1", 11), o("bsgal", "50", "2", 23),
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []float64{math.NaN(), math.NaN(), 1.5, 2} {
		r := tab.Rows[i]
		if math.IsNaN(want) {
			if !r.IsBaseline {
				t.Errorf("row %v: want baseline", r.Labels)
			}
			continue
		}
		if d := r.Cells[0].Diff; d == nil || d.Mean != want {
			t.Errorf("row %v: diff %+v, want mean %v", r.Labels, d, want)
		}
	}
	if _, err := Tabulate(&spec.Report{Rows: []string{"method"}, Baseline: "seed=1"}, nil); err == nil {
		t.Error("baseline on a non-row axis: no error")
	}
}
