package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"dagrun/dag"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// renderer shows run progress: on a terminal, live bars (mpb) for the whole
// run and for each running node; otherwise one plain line per event.
type renderer struct {
	a     *app
	out   io.Writer
	total int
	spec  string // the spec's path, for the `dagrun log` hint

	mu       sync.Mutex
	finished int
	p        *mpb.Progress
	overall  *mpb.Bar
	bars     map[*dag.Node]*mpb.Bar
}

func newRenderer(a *app, total int, spec string) *renderer {
	r := &renderer{a: a, out: a.stderr, total: total, spec: spec, bars: map[*dag.Node]*mpb.Bar{}}
	if f, ok := a.stderr.(*os.File); ok && !a.plain && isatty.IsTerminal(f.Fd()) {
		r.p = mpb.New(mpb.WithOutput(f), mpb.WithWidth(32), mpb.WithRefreshRate(120*time.Millisecond))
		r.overall = r.p.AddBar(int64(total), mpb.BarPriority(1<<30),
			mpb.PrependDecorators(decor.Name("nodes "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
		r.out = r.p
	}
	return r
}

func (r *renderer) close() {
	if r.p != nil {
		r.mu.Lock()
		for _, b := range r.bars {
			b.Abort(true)
		}
		r.overall.Abort(false)
		r.mu.Unlock()
		r.p.Wait()
	}
}

func (r *renderer) line(format string, args ...any) {
	if r.a.quiet {
		return
	}
	fmt.Fprintf(r.out, format+"\n", args...)
}

// logs prints the tail of a node's output an event carries; when the log
// holds more (before > 0), a first line says how much was left out and
// how to see all of it.
func (r *renderer) logs(n *dag.Node, log []byte, before int64) {
	if r.a.quiet || len(log) == 0 {
		return
	}
	var b strings.Builder
	if before > 0 {
		fmt.Fprintf(&b, "  %s | … %s of earlier output left out; %s prints the whole log\n", n.Name(), byteSize(before), r.a.logHint(r.spec, n.Name()))
	}
	for _, l := range strings.Split(strings.TrimRight(string(log), "\n"), "\n") {
		fmt.Fprintf(&b, "  %s | %s\n", n.Name(), l)
	}
	io.WriteString(r.out, b.String())
}

// byteSize formats n bytes for people.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func (r *renderer) event(e dag.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := e.Node.Name()
	switch e.State {
	case dag.Running:
		if r.p == nil {
			if e.Total == 0 {
				r.line("[%d/%d] run     %s", r.finished, r.total, name)
			}
			return
		}
		b := r.bars[e.Node]
		if b == nil {
			b = r.p.AddBar(int64(maxInt(e.Total, 1)), mpb.BarRemoveOnComplete(),
				mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit(" %d/%d")),
				mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
			r.bars[e.Node] = b
		}
		if e.Total > 0 {
			b.SetTotal(int64(e.Total), false)
			b.SetCurrent(int64(e.Done))
		}
		return
	case dag.Cached:
		r.finished++
		r.line("[%d/%d] cached  %s", r.finished, r.total, name)
		r.logs(e.Node, e.Log, e.LogBefore)
	case dag.Done:
		r.finished++
		r.line("[%d/%d] done    %s (%s)", r.finished, r.total, name, roundDur(e.Duration))
		r.logs(e.Node, e.Log, e.LogBefore)
	case dag.Failed:
		r.finished++
		fmt.Fprintf(r.out, "[%d/%d] FAILED  %s\n", r.finished, r.total, name)
	case dag.Skipped:
		r.finished++
		r.line("[%d/%d] skipped %s (upstream %q failed)", r.finished, r.total, name, e.Cause)
	}
	if r.p != nil {
		if b := r.bars[e.Node]; b != nil {
			b.Abort(true)
			delete(r.bars, e.Node)
		}
		r.overall.SetCurrent(int64(r.finished))
	}
}

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > time.Minute:
		return d.Round(time.Second)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	default:
		return d.Round(time.Millisecond)
	}
}

// transfer shows the progress of `dagrun remote push|pull`: on a terminal,
// one mpb bar of entries; otherwise one plain line per entry moved. A nil
// transfer shows nothing.
type transfer struct {
	a     *app
	verb  string // "push" or "pull"
	out   io.Writer
	mu    sync.Mutex
	names map[string]string // key -> node name
	total int
	n     int
	p     *mpb.Progress
	bar   *mpb.Bar
}

func newTransfer(a *app, verb string) *transfer {
	t := &transfer{a: a, verb: verb, out: a.stderr, names: map[string]string{}}
	if f, ok := a.stderr.(*os.File); ok && !a.plain && isatty.IsTerminal(f.Fd()) {
		t.p = mpb.New(mpb.WithOutput(f), mpb.WithWidth(32), mpb.WithRefreshRate(120*time.Millisecond))
		t.bar = t.p.AddBar(0, mpb.PrependDecorators(decor.Name(verb+" entries "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	}
	return t
}

// name remembers the node a key belongs to, for the plain lines.
func (t *transfer) name(key, node string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.names[key] = node
}

// add grows (or, negative, shrinks) the number of entries expected.
func (t *transfer) add(n int) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total += n
	if t.bar != nil {
		t.bar.SetTotal(int64(t.total), false)
	}
}

// done counts one entry moved.
func (t *transfer) done(key string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if t.bar != nil {
		t.bar.SetCurrent(int64(t.n))
		return
	}
	if !t.a.quiet {
		fmt.Fprintf(t.out, "[%d/%d] %sed %s\n", t.n, t.total, t.verb, t.names[key])
	}
}

func (t *transfer) close() {
	if t == nil || t.p == nil {
		return
	}
	t.bar.SetTotal(int64(t.n), true)
	t.p.Wait()
}
