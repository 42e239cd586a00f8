package dag

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"dagrun/cache"
)

// State is where a node stands in a run.
type State int

// The states a node passes through. Cached and Done are successes.
const (
	Pending State = iota
	Cached
	Running
	Done
	Failed
	Skipped
	Canceled
)

func (s State) String() string {
	return [...]string{"pending", "cached", "running", "done", "failed", "skipped", "canceled"}[s]
}

// Event reports progress of one node. Events for one node arrive in order;
// events of different nodes may interleave.
type Event struct {
	Node     *Node
	State    State
	Key      string
	Done     int // progress units, State == Running
	Total    int
	Duration time.Duration
	Err      error
	// Log is the tail of the node's console output (its last lines, at
	// most 64 KiB) on Done and on Cached (replayed from the cache), and
	// with Err on Failed. The whole log is the cache entry's (cache.OpenLog).
	Log []byte
	// LogBefore is how many bytes of the log come before Log (0 when Log
	// is all of it).
	LogBefore int64
	// Cause names the failed node that made this one Skipped.
	Cause string
}

// Result is the outcome of one node.
type Result struct {
	Node     *Node
	State    State
	Key      string
	Entry    *cache.Entry
	Err      error
	Duration time.Duration
	Cause    *Node // for Skipped: the failed root cause
}

// Digest is the content digest of the node's output ("" unless it succeeded).
func (r *Result) Digest() string {
	if r.Entry == nil {
		return ""
	}
	return r.Entry.Digest
}

// Summary is the outcome of a run.
type Summary struct {
	Results     []*Result // spec order
	Interrupted bool
	Started     time.Time
	Elapsed     time.Duration
}

// Count returns how many nodes ended in state s.
func (s *Summary) Count(st State) int {
	n := 0
	for _, r := range s.Results {
		if r.State == st {
			n++
		}
	}
	return n
}

// RootCauses returns the failed nodes, in spec order.
func (s *Summary) RootCauses() []*Result {
	var out []*Result
	for _, r := range s.Results {
		if r.State == Failed {
			out = append(out, r)
		}
	}
	return out
}

// Err summarises failures: nil when every node succeeded.
func (s *Summary) Err() error {
	if s.Interrupted {
		return context.Canceled
	}
	roots := s.RootCauses()
	if len(roots) == 0 {
		return nil
	}
	var b strings.Builder
	fe := &FailedError{Failed: len(roots)}
	for i, r := range roots {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(r.Err.Error())
		fe.Errs = append(fe.Errs, r.Err)
		var ce *cache.Error
		if errors.As(r.Err, &ce) && !errors.Is(r.Err, cache.ErrBadOutput) {
			fe.CacheIO = true
		}
	}
	if n := s.Count(Skipped); n > 0 {
		fmt.Fprintf(&b, "\n%d dependent node(s) skipped", n)
	}
	fe.Msg = b.String()
	return fe
}

// FailedError reports that one or more nodes failed.
type FailedError struct {
	Msg    string
	Failed int
	// Errs are the root causes' errors, in spec order.
	Errs []error
	// CacheIO is set when a node failed because the cache could not be
	// read or written (a *cache.Error other than a refused output): the
	// CLI exits 3 for it, not 1.
	CacheIO bool
}

func (e *FailedError) Error() string { return e.Msg }

// Unwrap returns the root causes' errors.
func (e *FailedError) Unwrap() []error { return e.Errs }

// NodeError is a run error of one node, naming it, its kind and the
// operation that failed.
type NodeError struct {
	Node, Kind, Op string
	Err            error
	LogTail        string
}

func (e *NodeError) Error() string {
	msg := fmt.Sprintf("node %q (%s): %s: %v", e.Node, e.Kind, e.Op, e.Err)
	if e.LogTail != "" {
		msg += "\n  output (last lines):\n" + indent(e.LogTail, "    ")
	}
	return msg
}

func (e *NodeError) Unwrap() error { return e.Err }

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

// fail reports that n failed in operation op: the result and the Failed
// event carry a NodeError with logTail, the last lines of the node's output.
func (st *runState) fail(n *Node, key, op string, err error, logTail string) *Result {
	ne := &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: op, Err: err, LogTail: tail([]byte(logTail), failTailLines)}
	res := &Result{Node: n, State: Failed, Key: key, Err: ne}
	st.emit(Event{Node: n, State: Failed, Key: key, Err: ne, Log: []byte(logTail)})
	return res
}

// tail returns the last lines of b.
func tail(b []byte, lines int) string {
	s := strings.TrimRight(string(b), "\n")
	if s == "" {
		return ""
	}
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
