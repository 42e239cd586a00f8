package format

import (
	"strings"
	"testing"
)

// TestItemScoresRoundTrip: rows read back exactly; malformed cells are
// errors naming the row.
func TestItemScoresRoundTrip(t *testing.T) {
	rows := []ItemScore{{1, 3, 0.125}, {1, 17, -0.3333333333333333}, {4, 0, 1e-300}}
	b, err := WriteItemScores(rows)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseItemScores(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("%d rows, want %d", len(got), len(rows))
	}
	for i := range rows {
		if got[i] != rows[i] {
			t.Errorf("row %d: %+v, want %+v", i, got[i], rows[i])
		}
	}
	for _, c := range []struct{ csv, want string }{
		{"iteration,pool_item,score\n0,1,0.5\n", "row 2: iteration"},
		{"iteration,pool_item,score\n1,-1,0.5\n", "row 2: pool_item"},
		{"iteration,pool_item,score\n1,1,0.5\n1,1,NaN\n", "row 3: score"},
		{"iteration,pool_item,score\n1,1,\n", "row 2: score"},
		{"iteration,score\n1,0.5\n", "pool_item"},
	} {
		if _, err := ParseItemScores([]byte(c.csv)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.csv, err, c.want)
		}
	}
}
