package format

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"strconv"
)

// ItemScoresFile is the train kind's per-item probe of the online BSGAL
// score (select.item_scores, classification): for every generated item
// offered, its own gradient's score against the cached real gradient the
// iteration's decision used. It is a record for reports, not a decision:
// the batch is still decided by its batch score. Header ItemScoresHeader;
// rows in iteration order, then in the order the items were offered.
const ItemScoresFile = "item_scores.csv"

// ItemScoresHeader is the header row of item_scores.csv.
var ItemScoresHeader = []string{"iteration", "pool_item", "score"}

// ItemScore is one row of item_scores.csv: the 1-based iteration, the pool
// item (see GalleryHeader) and its score.
type ItemScore struct {
	Iteration, PoolItem int
	Score               float64
}

// WriteItemScores renders item_scores.csv.
func WriteItemScores(rows []ItemScore) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(ItemScoresHeader)
	for _, r := range rows {
		w.Write([]string{strconv.Itoa(r.Iteration), strconv.Itoa(r.PoolItem), formatScore(r.Score)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write %s: %w", ItemScoresFile, err)
	}
	return buf.Bytes(), nil
}

// ParseItemScores reads item_scores.csv strictly: every cell must parse,
// iterations must be positive and pool items not negative, and a score
// must be a finite number.
func ParseItemScores(b []byte) ([]ItemScore, error) {
	t, err := readTable(b, ItemScoresHeader)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ItemScoresFile, err)
	}
	out := make([]ItemScore, len(t.rows))
	for i := range t.rows {
		row := func(format string, a ...any) error {
			return fmt.Errorf("read %s: row %d: %s", ItemScoresFile, i+2, fmt.Sprintf(format, a...))
		}
		var r ItemScore
		if r.Iteration, err = strconv.Atoi(t.get(i, "iteration")); err != nil || r.Iteration < 1 {
			return nil, row("iteration %q is not a positive integer", t.get(i, "iteration"))
		}
		if r.PoolItem, err = strconv.Atoi(t.get(i, "pool_item")); err != nil || r.PoolItem < 0 {
			return nil, row("pool_item %q is not a non-negative integer", t.get(i, "pool_item"))
		}
		if r.Score, err = strconv.ParseFloat(t.get(i, "score"), 64); err != nil || math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
			return nil, row("score %q is not a finite number", t.get(i, "score"))
		}
		out[i] = r
	}
	return out, nil
}
