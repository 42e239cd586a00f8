package train

import (
	"bytes"
	"errors"
	"fmt"

	"dagrun/format"
)

// decisionLog writes decisions.csv and counts acceptances per generator
// source and per frequency group of the generated items' categories.
type decisionLog struct {
	buf    bytes.Buffer
	w      *format.DecisionsWriter
	err    error             // the first write error
	groups map[string]string // category → group (may be empty)
	pre    *preselection     // rates of a selection made before training, or nil

	// items holds the per-item probe scores (select.item_scores).
	items []format.ItemScore

	proposed, accepted int
	srcSeen, srcAcc    map[string]int
	grpSeen, grpAcc    map[string]int
}

func newDecisionLog(groups map[string]string) *decisionLog {
	l := &decisionLog{groups: groups, srcSeen: map[string]int{}, srcAcc: map[string]int{}, grpSeen: map[string]int{}, grpAcc: map[string]int{}}
	l.w = format.NewDecisionsWriter(&l.buf)
	return l
}

// counts maps each name to how often it occurs.
func counts(names []string) map[string]int {
	c := map[string]int{}
	for _, n := range names {
		c[n]++
	}
	return c
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
	for k, sc := range r.items {
		l.items = append(l.items, format.ItemScore{Iteration: it, PoolItem: r.prop.PoolItems[k], Score: sc})
	}
	err := l.w.Write(format.Decision{Iteration: it, Score: r.dec.Score, Threshold: r.dec.Tau, Accepted: r.dec.Accepted,
		Sources: counts(r.prop.Sources), Categories: counts(r.prop.Categories), Items: r.prop.PoolItems})
	if l.err == nil {
		l.err = err
	}
}

// bytes returns the CSV written so far.
func (l *decisionLog) bytes() ([]byte, error) {
	if err := l.w.Flush(); err != nil || l.err != nil {
		return nil, fmt.Errorf("write %s: %w", format.DecisionsFile, errors.Join(l.err, err))
	}
	return l.buf.Bytes(), nil
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
