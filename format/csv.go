package format

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// formatScore writes a score the shortest way that reads back exactly, or
// "" for NaN (a mode without scores or thresholds).
func formatScore(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// parseScore reads what formatScore writes: "" is NaN.
func parseScore(s string) (float64, error) {
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	return v, nil
}

// formatCounts renders name=count pairs sorted by name, joined by ";".
func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, ";")
}

// parseCounts reads what formatCounts writes ("a=2;b=1"; a bare name
// counts 1).
func parseCounts(s string) (map[string]int, error) {
	m := map[string]int{}
	if s == "" {
		return m, nil
	}
	for _, part := range strings.Split(s, ";") {
		name, n, ok := strings.Cut(part, "=")
		c := 1
		if ok {
			var err error
			if c, err = strconv.Atoi(n); err != nil {
				return nil, fmt.Errorf("count %q is not an integer", part)
			}
		}
		m[name] += c
	}
	return m, nil
}

// csvTable is a CSV file read by its header: rows after the header, and
// a getter for a row's cell by column name.
type csvTable struct {
	rows [][]string
	col  map[string]int
}

// readTable reads b, which must be empty or have a header holding every
// column of want.
func readTable(b []byte, want []string) (*csvTable, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err == io.EOF {
		return &csvTable{}, nil
	}
	if err != nil {
		return nil, err
	}
	t := &csvTable{col: map[string]int{}}
	for i, h := range head {
		t.col[strings.TrimSpace(h)] = i
	}
	for _, w := range want {
		if _, ok := t.col[w]; !ok {
			return nil, fmt.Errorf("header %q lacks column %q", strings.Join(head, ","), w)
		}
	}
	if t.rows, err = r.ReadAll(); err != nil {
		return nil, err
	}
	return t, nil
}

// get returns row i's cell in column name, trimmed ("" past the row's end).
func (t *csvTable) get(i int, name string) string {
	if j, ok := t.col[name]; ok && j < len(t.rows[i]) {
		return strings.TrimSpace(t.rows[i][j])
	}
	return ""
}
