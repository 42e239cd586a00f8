package metrics

import (
	"maps"
	"testing"
)

func TestAccuracy(t *testing.T) {
	tests := []struct {
		pred, label []int
		want        float64
	}{
		{[]int{1, 2, 3, 4}, []int{1, 2, 0, 4}, 0.75},
		{[]int{0, 0}, []int{1, 1}, 0},
		{[]int{5}, []int{5}, 1},
		{nil, nil, 0},
	}
	for _, tt := range tests {
		if got := Accuracy(tt.pred, tt.label); got != tt.want {
			t.Errorf("Accuracy(%v, %v) = %v, want %v", tt.pred, tt.label, got, tt.want)
		}
	}
}

func TestGroupAccuracy(t *testing.T) {
	groupOf := map[int]string{0: Rare, 1: Rare, 2: Frequent, 3: Common}
	pred := []int{0, 1, 1, 2, 2, 0}
	label := []int{0, 0, 1, 2, 2, 2}
	// rare: samples 0,1,2 (labels 0,0,1), right 0 and 2 → 2/3;
	// frequent: samples 3,4,5, right 3 and 4 → 2/3; common: no samples.
	want := map[string]float64{Rare: 2.0 / 3, Frequent: 2.0 / 3}
	got, err := GroupAccuracy(pred, label, groupOf)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("GroupAccuracy = %v, want %v", got, want)
	}
	if _, err := GroupAccuracy([]int{0}, []int{9}, groupOf); err == nil {
		t.Error("label without group: no error")
	}
	if _, err := GroupAccuracy([]int{0}, nil, groupOf); err == nil {
		t.Error("length mismatch: no error")
	}
}

func TestGroupOf(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{{0, Rare}, {1, Rare}, {10, Rare}, {11, Common}, {100, Common}, {101, Frequent}}
	for _, tt := range tests {
		if got := GroupOf(tt.n); got != tt.want {
			t.Errorf("GroupOf(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}
