package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// The train kind's learning curves, two CSV files of its output
// (TypeModel): loss.csv, the training loss of every iteration, and, with a
// val input, val.csv, the validation metrics every eval_every iterations
// and after the last. Both have a fixed header and one row per iteration
// they cover, iterations strictly increasing from 1; numbers are written
// the shortest way that reads back exactly. Their readers accept nothing
// else: a row that does not parse is an error naming it (rows are counted
// from the header, row 1, as decisions.csv's reader counts them), never
// skipped.

// LossFile is the train kind's training loss per iteration.
const LossFile = "loss.csv"

// LossHeader is loss.csv's header: the 1-based iteration and the loss of
// the batch that iteration trained on.
var LossHeader = []string{"iteration", "loss"}

// LossRow is one row of loss.csv.
type LossRow struct {
	Iteration int
	Loss      float64
}

// ValFile is the train kind's validation curve.
const ValFile = "val.csv"

// ValHeader is val.csv's header for a classification val set: the
// iteration after which the model was evaluated, the mean loss and the
// accuracy (of images).
var ValHeader = []string{"iteration", "val_loss", "val_accuracy"}

// ValSegHeader is val.csv's header for a segmentation val set: ValHeader
// (accuracy of pixels) and the mask AP of the val scenes, computed as the
// evaluate kind computes AP.
var ValSegHeader = []string{"iteration", "val_loss", "val_accuracy", "val_AP", "val_AP50", "val_AP75", "val_APr", "val_APc", "val_APf"}

// ValRow is one row of val.csv. The AP fields are NaN in a classification
// curve; an AP over no category with ground truth is −1, as in metrics.
type ValRow struct {
	Iteration                     int
	Loss, Accuracy                float64
	AP, AP50, AP75, APr, APc, APf float64
}

// Metric returns the named column of r (a name of ValSegHeader other than
// "iteration"), or NaN for an unknown name.
func (r ValRow) Metric(name string) float64 {
	switch name {
	case "val_loss":
		return r.Loss
	case "val_accuracy":
		return r.Accuracy
	case "val_AP":
		return r.AP
	case "val_AP50":
		return r.AP50
	case "val_AP75":
		return r.AP75
	case "val_APr":
		return r.APr
	case "val_APc":
		return r.APc
	case "val_APf":
		return r.APf
	}
	return math.NaN()
}

// FormatLoss returns loss.csv for rows.
func FormatLoss(rows []LossRow) ([]byte, error) {
	recs := make([][]string, len(rows))
	for i, r := range rows {
		recs[i] = []string{strconv.Itoa(r.Iteration), ftoa(r.Loss)}
	}
	return writeCurve(LossHeader, recs)
}

// ParseLoss reads loss.csv strictly: the header LossHeader, then rows of
// a positive iteration (strictly increasing) and a finite loss.
func ParseLoss(b []byte) ([]LossRow, error) {
	recs, err := readCurve(b, LossHeader)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", LossFile, err)
	}
	out := make([]LossRow, len(recs))
	for i, rec := range recs {
		out[i].Iteration, _ = strconv.Atoi(rec[0])
		if out[i].Loss, err = parseFinite(rec[1]); err != nil {
			return nil, fmt.Errorf("read %s: row %d: loss: %w", LossFile, i+2, err)
		}
	}
	return out, nil
}

// FormatVal returns val.csv for rows: with ValSegHeader when segmentation,
// else ValHeader.
func FormatVal(rows []ValRow, segmentation bool) ([]byte, error) {
	head := ValHeader
	if segmentation {
		head = ValSegHeader
	}
	recs := make([][]string, len(rows))
	for i, r := range rows {
		rec := []string{strconv.Itoa(r.Iteration)}
		for _, name := range head[1:] {
			v := r.Metric(name)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("write %s: row %d: %s is %v", ValFile, i+2, name, v)
			}
			rec = append(rec, ftoa(v))
		}
		recs[i] = rec
	}
	return writeCurve(head, recs)
}

// ParseVal reads val.csv strictly: the header ValHeader or ValSegHeader
// (segmentation reports which), then rows of a positive iteration
// (strictly increasing) and finite values in every column. The AP fields
// of a classification curve are NaN.
func ParseVal(b []byte) (rows []ValRow, segmentation bool, err error) {
	head := ValHeader
	if h, _, _ := bytes.Cut(b, []byte("\n")); strings.TrimSpace(string(h)) == strings.Join(ValSegHeader, ",") {
		head, segmentation = ValSegHeader, true
	}
	recs, err := readCurve(b, head)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", ValFile, err)
	}
	rows = make([]ValRow, len(recs))
	for i, rec := range recs {
		r := ValRow{AP: math.NaN(), AP50: math.NaN(), AP75: math.NaN(), APr: math.NaN(), APc: math.NaN(), APf: math.NaN()}
		r.Iteration, _ = strconv.Atoi(rec[0])
		vals := make([]float64, len(head)-1)
		for j := range vals {
			if vals[j], err = parseFinite(rec[j+1]); err != nil {
				return nil, false, fmt.Errorf("read %s: row %d: %s: %w", ValFile, i+2, head[j+1], err)
			}
		}
		r.Loss, r.Accuracy = vals[0], vals[1]
		if segmentation {
			r.AP, r.AP50, r.AP75, r.APr, r.APc, r.APf = vals[2], vals[3], vals[4], vals[5], vals[6], vals[7]
		}
		rows[i] = r
	}
	return rows, segmentation, nil
}

// ftoa formats a float the shortest way that reads back exactly.
func ftoa(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

// parseFinite reads a finite number.
func parseFinite(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q is not a finite number", s)
	}
	return v, nil
}

// writeCurve writes a header and records as CSV.
func writeCurve(head []string, recs [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write(head)
	w.WriteAll(recs)
	if err := w.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readCurve reads a curve CSV whose header must be exactly head and whose
// rows must have one field per column, the first a positive iteration,
// strictly increasing.
func readCurve(b []byte, head []string) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	got, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("empty file, want a header")
	}
	if err != nil {
		return nil, err
	}
	if !slices.Equal(got, head) {
		return nil, fmt.Errorf("header %q, want %q", strings.Join(got, ","), strings.Join(head, ","))
	}
	recs, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	last := 0
	for i, rec := range recs {
		if len(rec) != len(head) {
			return nil, fmt.Errorf("row %d has %d fields, want %d", i+2, len(rec), len(head))
		}
		it, err := strconv.Atoi(rec[0])
		if err != nil || it <= last {
			return nil, fmt.Errorf("row %d: iteration %q, want an integer above %d", i+2, rec[0], last)
		}
		last = it
	}
	return recs, nil
}
