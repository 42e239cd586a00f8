package report

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"dagrun/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// table7Like is a table shaped like table7's default profile: five rows,
// three seeds, AP metrics from eval (APr all zero, APc tiny) and acceptance
// rates from the train node, which the baseline row (no generated data)
// lacks, so every acceptance Δ is "—". Values are fixed formulas of the row
// and seed.
func table7Like(t *testing.T) *Table {
	t.Helper()
	gens := []string{"none", "vae", "diverse", "ft", "union"}
	sources := map[string][]string{"vae": {"vae"}, "diverse": {"vae-diverse"}, "ft": {"vae-ft"}, "union": {"vae", "vae-diverse", "vae-ft"}}
	rep := &spec.Report{Node: "eval", Rows: []string{"gen"}, Over: []string{"seed"}, Baseline: "gen=none",
		Metrics: []string{"AP", "APr", "APc", "APf", "accept_rate", "accept_by_source.vae", "accept_by_source.vae-diverse", "accept_by_source.vae-ft"},
		From:    []int{0, 0, 0, 0, 1, 1, 1, 1},
		Sources: []spec.ReportSource{{Ref: "eval"}, {Ref: "train_${gen}"}}}
	var obs []Observation
	for gi, g := range gens {
		for seed := 1; seed <= 3; seed++ {
			s := float64(seed - 2)
			m := map[string]float64{
				"AP":  0.030 - 0.001*float64(gi) + 0.008*s + 0.0004*float64(gi*seed%3),
				"APr": 0,
				"APc": 0.000055 * float64((gi+seed)%3),
				"APf": 0.086 - 0.002*float64(gi) + 0.02*s,
			}
			if g != "none" {
				m["accept_rate"] = 0.5 + 0.01*float64(gi) - 0.02*s
				for k, src := range sources[g] {
					m["accept_by_source."+src] = 0.45 + 0.03*float64(k) + 0.015*s*float64(gi%2+1)
				}
			}
			obs = append(obs, Observation{Node: fmt.Sprintf("eval[gen=%s,seed=%d]", g, seed), Cached: true, Metrics: m,
				Cell: []spec.AxisValue{{Axis: "gen", Value: g}, {Axis: "seed", Value: fmt.Sprint(seed)}}})
		}
	}
	tab, err := Tabulate(rep, obs)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// smallTable has no baseline, two row axes, one seed missing in one row
// (n/m) and one metric observed nowhere.
func smallTable(t *testing.T) *Table {
	t.Helper()
	rep := &spec.Report{Node: "score", Rows: []string{"letter", "size"}, Over: []string{"seed"}, Metrics: []string{"count", "noisy", "never"}}
	var obs []Observation
	for _, l := range []string{"a", "e"} {
		for _, size := range []string{"1", "10"} {
			for seed := 1; seed <= 2; seed++ {
				cached := !(l == "e" && size == "10" && seed == 2)
				obs = append(obs, Observation{Cached: cached,
					Metrics: map[string]float64{"count": float64(len(l)*seed) * 1234.5, "noisy": 0.5 + 0.25*float64(seed)},
					Cell:    []spec.AxisValue{{Axis: "letter", Value: l}, {Axis: "size", Value: size}, {Axis: "seed", Value: fmt.Sprint(seed)}}})
			}
		}
	}
	tab, err := Tabulate(rep, obs)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run %s -update)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./report -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

func TestWriteTextGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		tab   func(*testing.T) *Table
		width int
	}{
		{"table7-w100", table7Like, 100},
		{"table7-w72", table7Like, 72},
		{"table7-w40", table7Like, 40},
		{"small-w100", smallTable, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteText(&b, tc.tab(t), tc.width); err != nil {
				t.Fatal(err)
			}
			golden(t, "text/"+tc.name+".txt", b.String())
			// No line is wider than the width, unless one column alone is
			// (at width 40 the AP difference is).
			if tc.width >= 72 {
				for _, line := range strings.Split(b.String(), "\n") {
					if n := utf8.RuneCountInString(line); n > tc.width {
						t.Errorf("line of %d > %d columns: %q", n, tc.width, line)
					}
				}
			}
		})
	}
}

func TestWriteMarkdownGolden(t *testing.T) {
	for name, tab := range map[string]func(*testing.T) *Table{"table7": table7Like, "small": smallTable} {
		var b bytes.Buffer
		if err := WriteMarkdown(&b, tab(t)); err != nil {
			t.Fatal(err)
		}
		golden(t, "text/"+name+".md", b.String())
	}
}

// TestViewsDropEmptyColumns checks which columns the text and HTML views
// keep: acceptance differences against a baseline that has no acceptance
// are "—" everywhere and go; a metric observed nowhere goes; the rest stay,
// grouped by source.
func TestViewsDropEmptyColumns(t *testing.T) {
	tab := table7Like(t)
	vs, dropped := tab.views()
	if len(vs) != 2 || vs[0].Source != "eval" || vs[1].Source != "train_${gen}" {
		t.Fatalf("views = %+v, want eval then train_${gen}", vs)
	}
	var heads []string
	for _, v := range vs {
		for _, c := range v.Cols {
			heads = append(heads, c.header(tab))
		}
	}
	if got, want := strings.Join(heads, "|"), "AP|Δ AP|APr|Δ APr|APc|Δ APc|APf|Δ APf|accept_rate|accept_by_source.vae|accept_by_source.vae-diverse|accept_by_source.vae-ft"; got != want {
		t.Errorf("kept %s\nwant %s", got, want)
	}
	if got, want := strings.Join(dropped, "|"), "Δ accept_rate|Δ accept_by_source.vae|Δ accept_by_source.vae-diverse|Δ accept_by_source.vae-ft"; got != want {
		t.Errorf("dropped %s\nwant %s", got, want)
	}
	if _, dropped := smallTable(t).views(); strings.Join(dropped, "|") != "never" {
		t.Errorf("small table dropped %q, want never", dropped)
	}
}

// TestColumnFormat checks the precision rule: decimals from the median
// std's second significant digit, else the largest mean's third, and
// scientific notation past maxDecimals; means, stds and differences of a
// column share it.
func TestColumnFormat(t *testing.T) {
	col := func(stats ...Stat) *Table {
		tab := &Table{Metrics: []string{"m"}}
		for _, s := range stats {
			tab.Rows = append(tab.Rows, Row{Cells: []Cell{{Stat: s}}})
		}
		return tab
	}
	for _, tc := range []struct {
		name  string
		tab   *Table
		want  numFormat
		mean  float64
		shown string
	}{
		{"std 0.027 and 0.009: median 0.009 gives 4 decimals",
			col(Stat{Mean: 0.086, Std: 0.027, N: 3}, Stat{Mean: 0.03, Std: 0.009, N: 3}, Stat{Mean: 0.02, Std: 0.0071, N: 3}),
			numFormat{decimals: 4}, 0.086, "0.0860"},
		{"one seed: three significant digits of the median mean",
			col(Stat{Mean: 1, N: 1}, Stat{Mean: 0.485, N: 1}, Stat{Mean: 0.4644, N: 1}, Stat{Mean: 0.045, N: 1}), numFormat{decimals: 3}, 0.4644, "0.464"},
		{"one seed, whole numbers: none", col(Stat{Mean: 2, N: 1}, Stat{Mean: 51, N: 1}), numFormat{decimals: 0}, 51, "51"},
		{"large values: no decimals", col(Stat{Mean: 2469, Std: 1746, N: 2}), numFormat{decimals: 0}, 2469.4, "2469"},
		{"tiny spread: scientific", col(Stat{Mean: 5.501e-05, Std: 9.5e-08, N: 3}), numFormat{sci: true}, 5.501e-05, "5.5e-05"},
		{"all zero", col(Stat{N: 1}, Stat{N: 0}), numFormat{decimals: 0}, 0, "0"},
		{"nothing observed", col(Stat{N: 0, Want: 3}), numFormat{decimals: 0}, math.NaN(), "NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := columnFormat(tc.tab, 0)
			if f != tc.want {
				t.Fatalf("columnFormat = %+v, want %+v", f, tc.want)
			}
			if got := f.num(tc.mean); got != tc.shown {
				t.Errorf("num(%v) = %q, want %q", tc.mean, got, tc.shown)
			}
		})
	}
	f := numFormat{decimals: 3}
	if got := f.signed(-0.0001); got != "+0.000" {
		t.Errorf("signed(-0.0001) = %q, want +0.000 (no negative zero)", got)
	}
	if got := f.signed(-0.0129); got != "-0.013" {
		t.Errorf("signed(-0.0129) = %q", got)
	}
}
