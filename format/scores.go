package format

import (
	"fmt"
	"path/filepath"

	"dagrun/lib/artifact"
)

// TypeScores is the score kind's output: scores.npy, accepted.npy and
// the kind's metrics.json. Item indices are those of the scored pool
// input's union (Pools), which a train node in select mode filter or
// offline must be given again.
const TypeScores = "scores"

// File names of a scores dir.
const (
	// ScoresFile holds one float64 score per pool item (items scored in
	// batches share their batch's score).
	ScoresFile = "scores.npy"
	// AcceptedFile holds the ascending int64 indices of the accepted items.
	AcceptedFile = "accepted.npy"
)

// SaveScores writes scores.npy and accepted.npy into dir, which must
// exist.
func SaveScores(dir string, scores []float64, accepted []int64) error {
	if err := artifact.SaveNPY(filepath.Join(dir, ScoresFile), artifact.F64Array(scores, len(scores))); err != nil {
		return err
	}
	return artifact.SaveNPY(filepath.Join(dir, AcceptedFile), artifact.I64Array(accepted, len(accepted)))
}

// LoadScores reads the per-item scores and the accepted item indices of a
// scores dir, checked against a pool of n items.
func LoadScores(dir string, n int) (scores []float64, accepted []int, err error) {
	s, err := artifact.LoadNPY(filepath.Join(dir, ScoresFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load scores: %w", err)
	}
	a, err := artifact.LoadNPY(filepath.Join(dir, AcceptedFile))
	if err != nil {
		return nil, nil, fmt.Errorf("load scores: %w", err)
	}
	if s.DType != "<f8" || len(s.Shape) != 1 || s.Shape[0] != n {
		return nil, nil, fmt.Errorf("load scores: %s is %s %v, want float64 [%d] (one score per pool item)", ScoresFile, s.DType, s.Shape, n)
	}
	if a.DType != "<i8" || len(a.Shape) != 1 {
		return nil, nil, fmt.Errorf("load scores: %s is %s %v, want int64 [K]", AcceptedFile, a.DType, a.Shape)
	}
	accepted = make([]int, len(a.I64))
	for k, i := range a.I64 {
		if i < 0 || int(i) >= n || k > 0 && int(i) <= accepted[k-1] {
			return nil, nil, fmt.Errorf("load scores: %s entry %d (%d) is not an ascending index below %d", AcceptedFile, k, i, n)
		}
		accepted[k] = int(i)
	}
	return s.F64, accepted, nil
}
