package report

import (
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Figure is the frame of a plot: title, axis labels and size in pixels.
type Figure struct {
	Title, XLabel, YLabel string
	// Width and Height are in pixels; 0 means 640×400.
	Width, Height int
	// YMin and YMax fix the Y range when YMax > YMin (e.g. 0–1 for rates);
	// otherwise it fits the data.
	YMin, YMax float64
	// Share makes SaveHistogram weigh each value 1/n of its sample's n
	// finite values, so samples of different sizes compare by shape.
	Share bool
}

// Series is one line of a plot: points (X[i], Y[i]) with optional
// symmetric error bars Err[i]. Non-finite points are dropped.
type Series struct {
	Name      string
	X, Y, Err []float64
}

// Sample is one named set of values of a histogram.
type Sample struct {
	Name   string
	Values []float64
	// Color is the bars' colour; nil picks one from a palette.
	Color color.Color
}

var (
	acceptedColor = color.RGBA{G: 140, B: 60, A: 255}
	rejectedColor = color.RGBA{R: 200, G: 30, B: 30, A: 255}
)

const dpi = 96

func (f Figure) size() (int, int) {
	w, h := f.Width, f.Height
	if w <= 0 {
		w = 640
	}
	if h <= 0 {
		h = 400
	}
	return w, h
}

func newPlot(f Figure) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = f.Title, f.XLabel, f.YLabel
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	return p
}

// save renders p as a PNG of exactly f's size in pixels. A plot without
// data gets a unit range and "(no data)" in its title instead of failing.
func save(p *plot.Plot, f Figure, empty bool, path string) (err error) {
	if empty {
		p.Title.Text += " (no data)"
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	}
	if f.YMax > f.YMin && !empty {
		p.Y.Min, p.Y.Max = f.YMin, f.YMax
	}
	w, h := f.size()
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(w)*vg.Inch/dpi, vg.Length(h)*vg.Inch/dpi), vgimg.UseDPI(dpi))
	p.Draw(draw.New(c))
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(out); err != nil {
		return fmt.Errorf("write %q: %w", path, err)
	}
	return nil
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// maxMarks is the most points a line gets markers for; longer lines
// (loss curves) are drawn plain.
const maxMarks = 60

type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// SaveLines writes a line plot of series to path. With ticks, X values are
// indexes into ticks (a categorical axis) and points are not joined.
func SaveLines(path string, f Figure, series []Series, ticks []string) error {
	p := newPlot(f)
	if len(ticks) > 0 {
		p.NominalX(ticks...)
	}
	empty := true
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		var xys plotter.XYs
		var errs plotter.YErrors
		hasErr := false
		for j := range s.X {
			if j >= len(s.Y) || !finite(s.X[j], s.Y[j]) {
				continue
			}
			e := 0.0
			if j < len(s.Err) && finite(s.Err[j]) {
				e, hasErr = s.Err[j], hasErr || s.Err[j] > 0
			}
			xys = append(xys, plotter.XY{X: s.X[j], Y: s.Y[j]})
			errs = append(errs, struct{ Low, High float64 }{e, e})
			lo, hi = math.Min(lo, s.Y[j]-e), math.Max(hi, s.Y[j]+e)
		}
		if len(xys) == 0 {
			continue
		}
		empty = false
		col := plotutil.Color(i)
		pts, err := plotter.NewScatter(xys)
		if err != nil {
			return fmt.Errorf("plot %q: %w", s.Name, err)
		}
		pts.Color, pts.Shape, pts.Radius = col, plotutil.Shape(i), vg.Points(3)
		var thumbs []plot.Thumbnailer
		if len(xys) <= maxMarks || ticks != nil {
			p.Add(pts)
			thumbs = append(thumbs, pts)
		}
		if ticks == nil && len(xys) > 1 {
			l, err := plotter.NewLine(xys)
			if err != nil {
				return fmt.Errorf("plot %q: %w", s.Name, err)
			}
			l.Color = col
			p.Add(l)
			thumbs = append(thumbs, l)
		}
		if hasErr {
			eb, err := plotter.NewYErrorBars(errPoints{xys, errs})
			if err != nil {
				return fmt.Errorf("plot %q: %w", s.Name, err)
			}
			eb.Color = col
			p.Add(eb)
		}
		if s.Name != "" {
			p.Legend.Add(s.Name, thumbs...)
		}
	}
	if ticks != nil && !empty {
		p.X.Min, p.X.Max = -0.5, float64(len(ticks))-0.5
	}
	if !empty {
		// A margin keeps points on the extremes off the frame.
		m := 0.05 * (hi - lo)
		if m == 0 {
			m = 0.5 * math.Max(math.Abs(hi), 1)
		}
		p.Y.Min, p.Y.Max = lo-m, hi+m
	}
	return save(p, f, empty, path)
}

// SaveHistogram writes overlaid histograms of samples to path, all over the
// same bins (at most bins of them) spanning every finite value.
func SaveHistogram(path string, f Figure, samples []Sample, bins int) error {
	p := newPlot(f)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range samples {
		for _, v := range s.Values {
			if finite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi || bins < 1 {
		return save(p, f, true, path)
	}
	if lo == hi {
		lo, hi = lo-0.5, hi+0.5
	}
	width := (hi - lo) / float64(bins)
	for i, s := range samples {
		hb := make([]plotter.HistogramBin, bins)
		for b := range hb {
			hb[b].Min, hb[b].Max = lo+float64(b)*width, lo+float64(b+1)*width
		}
		w := 1.0
		if f.Share {
			n := 0
			for _, v := range s.Values {
				if finite(v) {
					n++
				}
			}
			w = 1 / float64(max(n, 1))
		}
		for _, v := range s.Values {
			if finite(v) {
				hb[min(int((v-lo)/width), bins-1)].Weight += w
			}
		}
		col := s.Color
		if col == nil {
			col = plotutil.Color(i)
		}
		r, g, bl, _ := col.RGBA()
		h := &plotter.Histogram{Bins: hb, Width: width, LineStyle: plotter.DefaultLineStyle,
			FillColor: color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(bl >> 8), A: 110}}
		h.LineStyle.Color = col
		p.Add(h)
		p.Legend.Add(fmt.Sprintf("%s (%d)", s.Name, len(s.Values)), h)
	}
	return save(p, f, false, path)
}

// SaveThreshold writes the scores of one run over its iterations, accepted
// and rejected in two colours, with the threshold in force as a line.
func SaveThreshold(path string, f Figure, ds []Decision) error {
	p := newPlot(f)
	var acc, rej, thr plotter.XYs
	for _, d := range ds {
		x := float64(d.Iteration)
		if finite(d.Score) {
			if d.Accepted {
				acc = append(acc, plotter.XY{X: x, Y: d.Score})
			} else {
				rej = append(rej, plotter.XY{X: x, Y: d.Score})
			}
		}
		if finite(d.Threshold) {
			thr = append(thr, plotter.XY{X: x, Y: d.Threshold})
		}
	}
	for _, s := range []struct {
		name string
		xys  plotter.XYs
		col  color.Color
	}{{"accepted", acc, acceptedColor}, {"rejected", rej, rejectedColor}} {
		if len(s.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(s.xys)
		if err != nil {
			return fmt.Errorf("plot %s scores: %w", s.name, err)
		}
		sc.Color, sc.Radius = s.col, vg.Points(1.5)
		sc.Shape = draw.CircleGlyph{}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("%s (%d)", s.name, len(s.xys)), sc)
	}
	if len(thr) > 0 {
		l, err := plotter.NewLine(thr)
		if err != nil {
			return fmt.Errorf("plot threshold: %w", err)
		}
		l.Color, l.Width = color.Black, vg.Points(1.5)
		p.Add(l)
		p.Legend.Add("threshold", l)
	}
	return save(p, f, len(acc)+len(rej)+len(thr) == 0, path)
}
