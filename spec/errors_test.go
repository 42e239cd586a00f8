package spec

import (
	"testing"
)

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Pos{"a.yaml", 3, 9}, "train", "boom"}, `a.yaml:3:9: node "train": boom`},
		{Error{Pos{"a.yaml", 3, 9}, "", "boom"}, `a.yaml:3:9: boom`},
		{Error{Pos{File: "a.yaml"}, "", "cannot read"}, `a.yaml: cannot read`},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func TestErrorListSortDedupe(t *testing.T) {
	var l ErrorList
	if l.Err() != nil {
		t.Fatal("empty list: Err() != nil")
	}
	l.Add(Pos{"b.yaml", 1, 1}, "", "z")
	l.Add(Pos{"a.yaml", 2, 1}, "n", "y")
	l.Add(Pos{"a.yaml", 1, 5}, "", "b\nsecond line")
	l.Add(Pos{"a.yaml", 1, 5}, "", "a")
	l.Add(Pos{"a.yaml", 2, 1}, "n", "y")
	l.Add(Pos{"a.yaml", 10, 1}, "", "x")
	want := "a.yaml:1:5: a\n" +
		"a.yaml:1:5: b second line\n" +
		"a.yaml:2:1: node \"n\": y\n" +
		"a.yaml:10:1: x\n" +
		"b.yaml:1:1: z"
	err := l.Err()
	if err == nil || err.Error() != want {
		t.Errorf("Err() =\n%v\nwant\n%s", err, want)
	}
	if len(l) != 6 {
		t.Errorf("Err changed the list: len %d, want 6", len(l))
	}
	l.Sort()
	if l[0].Msg != "a" || l[5].Pos.File != "b.yaml" {
		t.Errorf("Sort: first %q, last %v", l[0].Msg, l[5].Pos)
	}
}

func TestDidYouMean(t *testing.T) {
	tests := []struct {
		name  string
		cands []string
		want  string
	}{
		{"nodez", []string{"name", "nodes", "vars"}, "nodes"},
		{"lrr", []string{"lr", "epochs"}, "lr"},
		{"x", []string{"y", "xy"}, "xy"}, // distance 1 each: ties go to the smallest name... "xy" < "y"
		{"completely", []string{"lr", "epochs"}, ""},
		{"dta", []string{"data", "train"}, "data"},
		{"", nil, ""},
		{"method", []string{"methd"}, "methd"},
		{"abcdefghijkl", []string{"abcdefghiXYZ", "abcdefghXYZW"}, "abcdefghiXYZ"}, // 3 <= 12/3
		{"abcdefghijkl", []string{"abcdefgVWXYZ"}, ""},                             // 5 > 12/3
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.name, tt.cands); got != tt.want {
			t.Errorf("DidYouMean(%q, %q) = %q, want %q", tt.name, tt.cands, got, tt.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"flaw", "lawn", 2}, {"abc", "abc", 0},
	}
	for _, tt := range tests {
		if got := editDistance(tt.a, tt.b, 100); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
