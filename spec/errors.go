package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a spec file. Line and Col are 1-based; a zero Line means the
// error concerns the file (or the command line) as a whole.
type Pos struct {
	File      string
	Line, Col int
}

// String formats p as "file:line:col", or just "file" when p has no line.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

// less orders positions by file, then line, then column.
func (p Pos) less(q Pos) bool {
	if p.File != q.File {
		return p.File < q.File
	}
	if p.Line != q.Line {
		return p.Line < q.Line
	}
	return p.Col < q.Col
}

// Error is one problem found in a spec, with the position of the YAML that causes it and,
// where there is one, the name of the node it concerns.
type Error struct {
	Pos  Pos
	Node string
	Msg  string
}

// Error formats e as `file:line:col: node "x": msg`, leaving out the node part when
// e.Node is empty.
func (e *Error) Error() string {
	if e.Node == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: node %q: %s", e.Pos, e.Node, e.Msg)
}

// ErrorList collects the errors of a spec so that all of them are reported at once.
type ErrorList []*Error

// Add appends an error at pos about node (may be "") with a message made by fmt.Sprintf.
// Newlines in the message are replaced by spaces so that every error is one line.
func (l *ErrorList) Add(pos Pos, node string, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.ReplaceAll(msg, "\n", " ")
	*l = append(*l, &Error{Pos: pos, Node: node, Msg: msg})
}

// Sort orders l in place by file, line, column, node and message. It cannot drop
// duplicates (its receiver is a value); Err returns the sorted list without them.
func (l ErrorList) Sort() {
	sort.SliceStable(l, func(i, j int) bool { return errLess(l[i], l[j]) })
}

func errLess(a, b *Error) bool {
	if a.Pos != b.Pos {
		return a.Pos.less(b.Pos)
	}
	if a.Node != b.Node {
		return a.Node < b.Node
	}
	return a.Msg < b.Msg
}

// sorted returns a sorted copy of l with identical errors removed.
func (l ErrorList) sorted() ErrorList {
	out := make(ErrorList, 0, len(l))
	for _, e := range l {
		if e != nil {
			out = append(out, e)
		}
	}
	out.Sort()
	n := 0
	for i, e := range out {
		if i > 0 && *e == *out[n-1] {
			continue
		}
		out[n] = e
		n++
	}
	return out[:n]
}

// Err returns nil when l is empty and otherwise the sorted, deduplicated list as an error.
func (l ErrorList) Err() error {
	s := l.sorted()
	if len(s) == 0 {
		return nil
	}
	return s
}

// Error returns the errors one per line, in the list's order.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// DidYouMean returns the candidate closest to name by edit distance, if that distance is
// at most max(2, len(name)/3), and "" otherwise. Ties go to the smallest candidate.
func DidYouMean(name string, candidates []string) string {
	limit := max(2, len(name)/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		d := editDistance(name, c, bestD+1)
		if d > limit {
			continue
		}
		if d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	return best
}

// hint formats DidYouMean's answer as a message suffix: ` (did you mean "y"?)` or "".
func hint(name string, candidates []string) string {
	if s := DidYouMean(name, candidates); s != "" && s != name {
		return fmt.Sprintf(" (did you mean %q?)", s)
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b over bytes. It returns early
// with a value >= bound once the distance is known to reach bound, which keeps it cheap
// on long hostile names.
func editDistance(a, b string, bound int) int {
	if d := len(a) - len(b); d >= bound || -d >= bound {
		return bound
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= bound {
			return bound
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
