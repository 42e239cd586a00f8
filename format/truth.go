package format

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
)

// TruthFile is the spoil kinds' sidecar: the known quality of every item
// of the pool they wrote, one row per item in pool order (TruthHeader).
// Nothing that selects, scores, filters or trains may read it (a test in
// this package enforces that only the spoil kinds, the selection-stats
// kind and report refer to it): it exists so that a report can join
// selection decisions with the truth after the fact.
const TruthFile = "truth.csv"

// TruthHeader is the header row of truth.csv.
var TruthHeader = []string{"item", "truth"}

// TruthClean is the truth of an item the spoil kinds left as it was.
const TruthClean = "clean"

// TruthDefects are the defect types a truth row may name besides clean:
// those of instances pools, then those of classification pools.
var TruthDefects = []string{"wrong_category", "empty_mask", "box_mask", "fragment", "multi", "noise", "wrong_label", "blank"}

// WriteTruth renders truth.csv: row i is item i with truth[i], which
// must be TruthClean or one of TruthDefects.
func WriteTruth(truth []string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(TruthHeader)
	for i, t := range truth {
		if t != TruthClean && !slices.Contains(TruthDefects, t) {
			return nil, fmt.Errorf("write %s: item %d: unknown truth %q", TruthFile, i, t)
		}
		w.Write([]string{strconv.Itoa(i), t})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write %s: %w", TruthFile, err)
	}
	return buf.Bytes(), nil
}

// ParseTruth reads truth.csv strictly: the header must hold both columns,
// row r must be item r-2 (items 0, 1, … in order, none missing), and every
// truth must be TruthClean or one of TruthDefects.
func ParseTruth(b []byte) ([]string, error) {
	t, err := readTable(b, TruthHeader)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TruthFile, err)
	}
	if t.col == nil {
		return nil, fmt.Errorf("read %s: empty file, want a header", TruthFile)
	}
	out := make([]string, len(t.rows))
	for i := range t.rows {
		row := func(err error) error { return fmt.Errorf("read %s: row %d: %w", TruthFile, i+2, err) }
		n, err := strconv.Atoi(t.get(i, "item"))
		if err != nil {
			return nil, row(fmt.Errorf("item %q is not an integer", t.get(i, "item")))
		}
		if n != i {
			return nil, row(fmt.Errorf("item %d, want %d (rows in item order, none missing)", n, i))
		}
		v := t.get(i, "truth")
		if v != TruthClean && !slices.Contains(TruthDefects, v) {
			return nil, row(fmt.Errorf("unknown truth %q (want %s or one of %q)", v, TruthClean, TruthDefects))
		}
		out[i] = v
	}
	return out, nil
}
