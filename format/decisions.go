package format

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DecisionsFile is the train kind's log of its acceptance decisions: one
// row per iteration that was offered a generated part, in iteration
// order, with the header DecisionsHeader.
const DecisionsFile = "decisions.csv"

// DecisionsHeader is the header row of decisions.csv.
var DecisionsHeader = []string{"iteration", "score", "threshold", "accepted", "sources", "categories", "items"}

// Decision is one row of decisions.csv: the 1-based iteration, the score of
// the generated part and the threshold in force (NaN, written empty, when
// the select mode has none), whether it was accepted, and how many
// generated items of each source and of each category it held (written
// "name=count;…", sorted by name), and the pool item of each generated
// item in the order they were offered (written "3;17;17", a repeat for an
// item offered twice; see GalleryHeader for what a pool item is), by which
// a report joins each decision with what it covered.
type Decision struct {
	Iteration        int
	Score, Threshold float64
	Accepted         bool
	Sources          map[string]int
	Categories       map[string]int
	Items            []int
}

// DecisionsWriter writes decisions.csv.
type DecisionsWriter struct{ w *csv.Writer }

// NewDecisionsWriter returns a writer that has written the header to w.
func NewDecisionsWriter(w io.Writer) *DecisionsWriter {
	d := &DecisionsWriter{csv.NewWriter(w)}
	d.w.Write(DecisionsHeader)
	return d
}

// Write adds one row.
func (d *DecisionsWriter) Write(x Decision) error {
	return d.w.Write([]string{strconv.Itoa(x.Iteration), formatScore(x.Score), formatScore(x.Threshold),
		strconv.FormatBool(x.Accepted), formatCounts(x.Sources), formatCounts(x.Categories), formatItems(x.Items)})
}

// Flush writes what is buffered and returns the first error of any write.
func (d *DecisionsWriter) Flush() error {
	d.w.Flush()
	return d.w.Error()
}

// ParseDecisions reads decisions.csv. An empty file holds no rows; a
// header that lacks a column of DecisionsHeader, or a cell that does not
// parse, is an error naming the row.
func ParseDecisions(b []byte) ([]Decision, error) {
	t, err := readTable(b, DecisionsHeader)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", DecisionsFile, err)
	}
	out := make([]Decision, len(t.rows))
	for i := range t.rows {
		d := &out[i]
		row := func(err error) error { return fmt.Errorf("read %s: row %d: %w", DecisionsFile, i+2, err) }
		if d.Iteration, err = strconv.Atoi(t.get(i, "iteration")); err != nil {
			return nil, row(fmt.Errorf("iteration %q is not an integer", t.get(i, "iteration")))
		}
		if d.Score, err = parseScore(t.get(i, "score")); err != nil {
			return nil, row(fmt.Errorf("score: %w", err))
		}
		if d.Threshold, err = parseScore(t.get(i, "threshold")); err != nil {
			return nil, row(fmt.Errorf("threshold: %w", err))
		}
		if d.Accepted, err = strconv.ParseBool(t.get(i, "accepted")); err != nil {
			return nil, row(fmt.Errorf("accepted %q is not a boolean", t.get(i, "accepted")))
		}
		if d.Sources, err = parseCounts(t.get(i, "sources")); err != nil {
			return nil, row(fmt.Errorf("sources: %w", err))
		}
		if d.Categories, err = parseCounts(t.get(i, "categories")); err != nil {
			return nil, row(fmt.Errorf("categories: %w", err))
		}
		if d.Items, err = parseItems(t.get(i, "items")); err != nil {
			return nil, row(fmt.Errorf("items: %w", err))
		}
	}
	return out, nil
}

// formatItems joins pool items with ";".
func formatItems(items []int) string {
	parts := make([]string, len(items))
	for i, n := range items {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, ";")
}

// parseItems reads what formatItems writes: non-negative integers.
func parseItems(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ";")
	out := make([]int, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("item %q is not a non-negative integer", p)
		}
		out[i] = n
	}
	return out, nil
}
