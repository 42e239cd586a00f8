package train

import (
	"bytes"
	"encoding/csv"
	"math"
	"slices"
	"strconv"
	"strings"
)

// DecisionsHeader is the header row of decisions.csv.
var DecisionsHeader = []string{"iteration", "score", "threshold", "accepted", "sources", "categories"}

// decisionLog writes decisions.csv and counts acceptances per generator
// source and per frequency group of the generated items' categories.
type decisionLog struct {
	buf    bytes.Buffer
	w      *csv.Writer
	groups map[string]string // category → group (may be empty)
	pre    *preselection     // rates of a selection made before training, or nil

	proposed, accepted int
	srcSeen, srcAcc    map[string]int
	grpSeen, grpAcc    map[string]int
}

func newDecisionLog(groups map[string]string) *decisionLog {
	l := &decisionLog{groups: groups, srcSeen: map[string]int{}, srcAcc: map[string]int{}, grpSeen: map[string]int{}, grpAcc: map[string]int{}}
	l.w = csv.NewWriter(&l.buf)
	l.w.Write(DecisionsHeader)
	return l
}

// counts renders name=count pairs sorted by name, joined by ";".
func counts(names []string) string {
	c := map[string]int{}
	for _, n := range names {
		c[n]++
	}
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(c[k])
	}
	return strings.Join(parts, ";")
}

// fmtScore writes a score, or "" when the mode has none (NaN).
func fmtScore(x float64) string {
	if math.IsNaN(x) {
		return ""
	}
	return ftoa(x)
}

// add logs iteration it (1-based) if a generated part was proposed.
func (l *decisionLog) add(it int, r stepResult) {
	if !r.proposed {
		return
	}
	l.proposed++
	if r.dec.Accepted {
		l.accepted++
	}
	for k, src := range r.prop.Sources {
		l.srcSeen[src]++
		if r.dec.Accepted {
			l.srcAcc[src]++
		}
		if g, ok := l.groups[r.prop.Categories[k]]; ok {
			l.grpSeen[g]++
			if r.dec.Accepted {
				l.grpAcc[g]++
			}
		}
	}
	l.w.Write([]string{strconv.Itoa(it), fmtScore(r.dec.Score), fmtScore(r.dec.Tau), strconv.FormatBool(r.dec.Accepted),
		counts(r.prop.Sources), counts(r.prop.Categories)})
}

// bytes returns the CSV written so far.
func (l *decisionLog) bytes() []byte {
	l.w.Flush()
	return l.buf.Bytes()
}

func rates(acc, seen map[string]int) map[string]float64 {
	if len(seen) == 0 {
		return nil
	}
	out := make(map[string]float64, len(seen))
	for k, n := range seen {
		out[k] = float64(acc[k]) / float64(n)
	}
	return out
}

// fill sets the acceptance fields of m.
func (l *decisionLog) fill(m *Metrics) {
	m.Proposed, m.Accepted = l.proposed, l.accepted
	if l.proposed > 0 {
		r := float64(l.accepted) / float64(l.proposed)
		m.AcceptRate = &r
	}
	m.AcceptBySource = rates(l.srcAcc, l.srcSeen)
	m.AcceptByGroup = rates(l.grpAcc, l.grpSeen)
	if l.pre != nil {
		r := l.pre.rate
		m.AcceptRate, m.AcceptBySource, m.AcceptByGroup = &r, l.pre.bySource, l.pre.byGroup
	}
}
