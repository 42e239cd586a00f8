package spoil

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"dagrun/format"
	"dagrun/nodes"
)

// TestJoinHandWorked checks Join on a case worked by hand.
func TestJoinHandWorked(t *testing.T) {
	truth := []string{"clean", "clean", "box_mask", "noise", "clean"}
	ds := []format.Decision{
		{Iteration: 1, Score: 0.5, Accepted: true, Items: []int{0, 1}},       // defect fraction 0
		{Iteration: 2, Score: -0.5, Accepted: false, Items: []int{2, 3}},     // 1
		{Iteration: 3, Score: 0.0, Accepted: true, Items: []int{4, 2, 0, 1}}, // 0.25
	}
	st, err := Join(ds, truth, []float64{0.9, 0.8, 0.1, 0.85, 0.2}, []int{0, 1, 3})
	if err != nil {
		t.Fatal(err)
	}
	// Offered: clean 0,1,4,0,1 = 5, box_mask 2,2 = 2, noise 1.
	// Accepted: clean 5, box_mask 1, noise 0.
	if st.Offered["clean"] != 5 || st.Offered["box_mask"] != 2 || st.Offered["noise"] != 1 {
		t.Errorf("offered %v", st.Offered)
	}
	if st.Accept["clean"] != 1 || st.Accept["box_mask"] != 0.5 || st.Accept["noise"] != 0 {
		t.Errorf("accept %v", st.Accept)
	}
	// Recall over both stages: all offered clean accepted, 2 of the 3
	// clean items kept by the scores input (below).
	if *st.Precision != 5.0/6 || *st.Recall != 2.0/3 {
		t.Errorf("precision %v recall %v, want 5/6 and 2/3", *st.Precision, *st.Recall)
	}
	if *st.DefectAccepted != 0.125 || *st.DefectRejected != 1 {
		t.Errorf("defect fractions %v %v, want 0.125 and 1", *st.DefectAccepted, *st.DefectRejected)
	}
	// x = 0, 1, 0.25; y = 0.5, -0.5, 0: mx = 5/12, my = 0.
	// sxy = -5/12·0.5 + 7/12·(-0.5) + (-1/6)·0 = -0.5;
	// sxx = 25/144 + 49/144 + 4/144 = 78/144; syy = 0.5.
	if want := -0.5 / math.Sqrt(78.0/144*0.5); math.Abs(*st.DefectScoreCorr-want) > 1e-12 {
		t.Errorf("corr %v, want %v", *st.DefectScoreCorr, want)
	}
	// Clean scores 0.9, 0.8, 0.2: above box_mask's 0.1 in 3 of 3 pairs,
	// above noise's 0.85 in 1 of 3.
	if st.AUC["box_mask"] != 1 || math.Abs(st.AUC["noise"]-1.0/3) > 1e-12 {
		t.Errorf("auc %v, want box_mask 1, noise 1/3", st.AUC)
	}
	// Kept: clean 2 of 3, box_mask 0 of 1, noise 1 of 1; selected: the
	// acceptance times that, box_mask 0 however offered.
	if st.Kept["clean"] != 2.0/3 || st.Kept["box_mask"] != 0 || st.Kept["noise"] != 1 ||
		st.Selected["clean"] != 2.0/3 || st.Selected["box_mask"] != 0 || st.Selected["noise"] != 0 || *st.Recall != 2.0/3 {
		t.Errorf("kept %v selected %v recall %v", st.Kept, st.Selected, *st.Recall)
	}
	// Without scores, selected is the acceptance.
	if st, err := Join(ds, truth, nil, nil); err != nil || st.Kept != nil || st.Selected["box_mask"] != 0.5 || st.Selected["clean"] != 1 || *st.Recall != 1 {
		t.Errorf("no scores: %+v, %v", st, err)
	}
	if _, err := Join([]format.Decision{{Iteration: 1, Items: []int{9}}}, truth, nil, nil); err == nil {
		t.Error("an item beyond truth.csv joined")
	}
}

// TestProbeAUC: the probe's rows are split by the truth of their pool
// items (occurrences: an item scored twice counts twice).
func TestProbeAUC(t *testing.T) {
	truth := []string{"clean", "noise", "clean", "blank"}
	rows := []format.ItemScore{{Iteration: 1, PoolItem: 0, Score: 0.9}, {Iteration: 1, PoolItem: 1, Score: 0.1}, {Iteration: 2, PoolItem: 2, Score: 0.3}, {Iteration: 2, PoolItem: 1, Score: 0.5}, {Iteration: 3, PoolItem: 3, Score: 0.95}, {Iteration: 3, PoolItem: 0, Score: 0.2}}
	got, err := ProbeAUC(rows, truth)
	if err != nil {
		t.Fatal(err)
	}
	// Clean 0.9, 0.3, 0.2; noise 0.1, 0.5: clean above in 3 + 1 of 6
	// pairs; blank 0.95: in 0 of 3.
	if math.Abs(got["noise"]-4.0/6) > 1e-12 || got["blank"] != 0 || len(got) != 2 {
		t.Errorf("probe AUC %v, want noise 2/3, blank 0", got)
	}
	if _, err := ProbeAUC([]format.ItemScore{{Iteration: 1, PoolItem: 4, Score: 0}}, truth); err == nil {
		t.Error("an item beyond truth.csv joined")
	}
	if got, err := ProbeAUC(rows[:1], truth); err != nil || got != nil {
		t.Errorf("clean only: %v, %v; want none", got, err)
	}
}

// TestAUCNaN: a NaN score ranks lowest and ties with NaNs; it never
// stalls the rank loop.
func TestAUCNaN(t *testing.T) {
	nan := math.NaN()
	for _, c := range []struct {
		pos, neg []float64
		want     float64
	}{
		{[]float64{nan, 1}, []float64{0}, 0.5},             // NaN < 0 < 1
		{[]float64{0}, []float64{nan, nan}, 1},             // 0 above both NaNs
		{[]float64{nan}, []float64{nan, 2}, 0.25},          // tie 1/2, below 2
		{[]float64{nan, nan}, []float64{nan}, 0.5},         // all tied
		{[]float64{3, nan, 1}, []float64{2, nan}, 3.5 / 6}, // 3>2, 3>N, N<2, N=N half, 1<2, 1>N
	} {
		got := AUC(c.pos, c.neg)
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("AUC(%v, %v) = %v, want %v", c.pos, c.neg, got, c.want)
		}
	}
}

// TestAUCTies: ties count one half.
func TestAUCTies(t *testing.T) {
	if got := AUC([]float64{1, 2}, []float64{1, 0}); got != 0.875 {
		t.Errorf("AUC = %v, want 0.875 (pairs: 1>0, 1=1 half, 2>1, 2>0)", got)
	}
}

// TestStatsRun runs the kind on files.
func TestStatsRun(t *testing.T) {
	tr, tt := t.TempDir(), t.TempDir()
	dec := "iteration,score,threshold,accepted,sources,categories,items\n1,0.5,,true,g=2,a=2,0;1\n2,-0.5,,false,g=1,a=1,2\n"
	if err := os.WriteFile(filepath.Join(tr, format.DecisionsFile), []byte(dec), 0o644); err != nil {
		t.Fatal(err)
	}
	ib, _ := format.WriteItemScores([]format.ItemScore{{Iteration: 1, PoolItem: 0, Score: 0.5}, {Iteration: 1, PoolItem: 1, Score: 0.7}, {Iteration: 2, PoolItem: 2, Score: 0.1}})
	if err := os.WriteFile(filepath.Join(tr, format.ItemScoresFile), ib, 0o644); err != nil {
		t.Fatal(err)
	}
	b, _ := format.WriteTruth([]string{"clean", "noise", "fragment"})
	if err := os.WriteFile(filepath.Join(tt, format.TruthFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	k := StatsKind()
	n, err := k.Construct(nodes.Build{}, k.Params())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := n.Run(context.Background(), &nodes.Env{Inputs: map[string][]string{"train": {tr}, "truth": {tt}}, OutDir: out, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	var st Stats
	mb, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(mb, &st); err != nil {
		t.Fatal(err)
	}
	if st.Accept["clean"] != 1 || st.Accept["noise"] != 1 || st.Accept["fragment"] != 0 || *st.Precision != 0.5 ||
		st.ProbeAUC["noise"] != 0 || st.ProbeAUC["fragment"] != 1 {
		t.Errorf("metrics %s", mb)
	}
}
