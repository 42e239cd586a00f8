package dag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"dagrun/cache"
	"dagrun/nodes"
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
	// Log is the node's console output, on Done and on Cached (replayed).
	Log []byte
	// Cause names the failed node that made this one Skipped.
	Cause string
}

// Options configure a run.
type Options struct {
	// Jobs is the CPU budget (-j); a node takes its kind's weight of it.
	Jobs int
	// FailFast cancels everything on the first failure.
	FailFast bool
	// Executor runs nodes; nil means Local.
	Executor Executor
	// Events receives progress; it is called from several goroutines.
	Events func(Event)
	// Log receives diagnostics; nil discards them.
	Log *slog.Logger
	// Record names the run in the cache's run history ("" = g.Spec.Name).
	Record string
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
	for i, r := range roots {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(r.Err.Error())
	}
	if n := s.Count(Skipped); n > 0 {
		fmt.Fprintf(&b, "\n%d dependent node(s) skipped", n)
	}
	return &FailedError{Msg: b.String(), Failed: len(roots)}
}

// FailedError reports that one or more nodes failed.
type FailedError struct {
	Msg    string
	Failed int
}

func (e *FailedError) Error() string { return e.Msg }

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

// Runner executes graphs against a cache.
type Runner struct {
	Cache *cache.Cache
	Opts  Options
}

type runState struct {
	r       *Runner
	g       *Graph
	ctx     context.Context
	cancel  context.CancelFunc
	sem     *weighted
	exec    Executor
	log     *slog.Logger
	results []*Result // by node index

	mu      sync.Mutex
	flights map[string]*flight
}

type flight struct {
	done  chan struct{}
	entry *cache.Entry
	err   error
}

// Run executes every node of g that is not cached, in parallel, and returns
// the per-node outcome. The error is non-nil only for problems of the run
// itself (a cache that cannot be read); node failures are in the Summary.
func (r *Runner) Run(ctx context.Context, g *Graph) (*Summary, error) {
	jobs := r.Opts.Jobs
	if jobs < 1 {
		jobs = 1
	}
	parent := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st := &runState{
		r: r, g: g, ctx: ctx, cancel: cancel,
		sem:     newWeighted(jobs),
		exec:    r.Opts.Executor,
		log:     r.Opts.Log,
		results: make([]*Result, len(g.Nodes)),
		flights: map[string]*flight{},
	}
	if st.exec == nil {
		st.exec = Local{}
	}
	if st.log == nil {
		st.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	sum := &Summary{Started: time.Now()}

	// waiting[i] counts the distinct upstream nodes node i still waits for.
	waiting := make([]int, len(g.Nodes))
	for _, n := range g.Nodes {
		seen := map[*Node]bool{}
		for _, e := range n.Inputs {
			if !seen[e.From] {
				seen[e.From] = true
				waiting[n.index]++
			}
		}
	}
	done := make(chan *Result)
	inflight := 0
	// ready holds nodes whose inputs are all done: the dispatcher computes
	// their keys and looks them up in one batch, settles the hits at once
	// and starts a goroutine per miss.
	var ready []*Node
	for _, n := range g.Order {
		if waiting[n.index] == 0 {
			ready = append(ready, n)
		}
	}
	var skip func(n, cause *Node)
	skip = func(n, cause *Node) {
		for _, d := range n.Downstream {
			if st.results[d.index] != nil {
				continue
			}
			res := &Result{Node: d, State: Skipped, Cause: cause}
			st.results[d.index] = res
			st.emit(Event{Node: d, State: Skipped, Cause: cause.Name()})
			skip(d, cause)
		}
	}
	settle := func(res *Result) {
		n := res.Node
		st.results[n.index] = res
		switch res.State {
		case Cached, Done:
			if ctx.Err() != nil {
				return
			}
			for _, d := range n.Downstream {
				waiting[d.index]--
				if waiting[d.index] == 0 && st.results[d.index] == nil {
					ready = append(ready, d)
				}
			}
		case Failed:
			skip(n, n)
			if r.Opts.FailFast {
				cancel()
			}
		}
	}
	for len(ready) > 0 || inflight > 0 {
		if len(ready) > 0 {
			batch := ready
			ready = nil
			if ctx.Err() != nil {
				continue
			}
			settled, misses := st.lookup(batch)
			for _, res := range settled {
				settle(res)
			}
			for _, m := range misses {
				inflight++
				go func() { done <- st.runMiss(m.n, m.key, m.parts) }()
			}
			continue
		}
		res := <-done
		inflight--
		settle(res)
	}
	for _, n := range g.Nodes {
		if st.results[n.index] == nil {
			st.results[n.index] = &Result{Node: n, State: Canceled}
		}
		sum.Results = append(sum.Results, st.results[n.index])
	}
	sum.Interrupted = parent.Err() != nil
	sum.Elapsed = time.Since(sum.Started)
	if err := st.record(sum); err != nil {
		return sum, err
	}
	return sum, nil
}

func (st *runState) emit(e Event) {
	if st.r.Opts.Events != nil {
		st.r.Opts.Events(e)
	}
}

// record writes the run into the cache's history, so that `plan` can say
// what changed since.
func (st *runState) record(sum *Summary) error {
	name := st.r.Opts.Record
	if name == "" {
		name = st.g.Spec.Name
	}
	var rows []cache.RunNode
	for _, r := range sum.Results {
		if r.Key == "" {
			continue
		}
		rows = append(rows, cache.RunNode{Node: r.Node.Name(), Key: r.Key, Digest: r.Digest(), Status: r.State.String(), Duration: r.Duration})
	}
	if len(rows) == 0 {
		return nil
	}
	_, err := st.r.Cache.RecordRun(context.WithoutCancel(st.ctx), name, rows)
	return err
}

func (st *runState) fail(n *Node, key, op string, err error, log []byte) *Result {
	ne := &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: op, Err: err, LogTail: tail(log, 10)}
	res := &Result{Node: n, State: Failed, Key: key, Err: ne}
	st.emit(Event{Node: n, State: Failed, Key: key, Err: ne, Log: log})
	return res
}

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

// Parts computes the key parts of n from the results of its inputs.
func Parts(ctx context.Context, n *Node, h nodes.FileHasher, input func(*Node) *cache.Entry) (*KeyParts, error) {
	p := &KeyParts{Kind: n.Kind.Name, Version: n.Kind.Version, Params: n.ParamsJSON}
	if fp, ok := n.Impl.(nodes.Fingerprinter); ok {
		files, err := fp.Fingerprint(ctx, h)
		if err != nil {
			return nil, err
		}
		p.Files = sortedFiles(files)
	}
	for _, e := range n.Inputs {
		ent := input(e.From)
		if ent == nil {
			return nil, errUnknownInput
		}
		d, err := outputDigest(ent, e)
		if err != nil {
			return nil, err
		}
		p.Inputs = append(p.Inputs, InputPart{Slot: e.Slot, Index: e.Index, Digest: d, From: e.From.Name()})
	}
	return p, nil
}

var errUnknownInput = errors.New("input not computed yet")

func outputDigest(ent *cache.Entry, e Edge) (string, error) {
	if e.Output == "" {
		return ent.Digest, nil
	}
	sub := ent.Manifest.Sub(e.Output)
	if len(sub) == 0 {
		return "", fmt.Errorf("input %q: node %q wrote no output %q", e.Slot, e.From.Name(), e.Output)
	}
	return sub.Digest(), nil
}

type miss struct {
	n     *Node
	key   string
	parts *KeyParts
}

// lookup computes the keys of ready nodes and looks them all up in one
// batch. It returns the settled results (hits and fingerprint failures) and
// the misses, which must be computed.
func (st *runState) lookup(batch []*Node) ([]*Result, []miss) {
	c := st.r.Cache
	var settled []*Result
	var misses []miss
	keys := make([]string, 0, len(batch))
	for _, n := range batch {
		parts, err := Parts(st.ctx, n, c, func(up *Node) *cache.Entry { return st.results[up.index].Entry })
		if err != nil {
			settled = append(settled, st.fail(n, "", "fingerprint", err, nil))
			continue
		}
		misses = append(misses, miss{n: n, key: parts.Key(), parts: parts})
		keys = append(keys, misses[len(misses)-1].key)
	}
	found, err := c.GetMany(st.ctx, keys)
	if err != nil {
		for _, m := range misses {
			settled = append(settled, st.fail(m.n, m.key, "cache lookup", err, nil))
		}
		return settled, nil
	}
	var rest []miss
	for _, m := range misses {
		if ent, ok := found[m.key]; ok {
			settled = append(settled, st.hit(m.n, m.key, ent))
			continue
		}
		rest = append(rest, m)
	}
	return settled, rest
}

// runMiss computes a node that missed the cache, once per key: a node whose
// key another node of this run is computing waits for that one.
func (st *runState) runMiss(n *Node, key string, parts *KeyParts) *Result {
	ctx := st.ctx
	if ctx.Err() != nil {
		return &Result{Node: n, State: Canceled, Key: key}
	}
	st.mu.Lock()
	if f, ok := st.flights[key]; ok {
		st.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return &Result{Node: n, State: Canceled, Key: key}
		}
		if f.err != nil {
			return st.fail(n, key, "shared run", f.err, nil)
		}
		return st.hit(n, key, f.entry)
	}
	f := &flight{done: make(chan struct{})}
	st.flights[key] = f
	st.mu.Unlock()
	res := st.compute(n, key, parts)
	f.entry, f.err = res.Entry, res.Err
	if res.State == Canceled && f.err == nil {
		f.err = context.Canceled
	}
	close(f.done)
	return res
}

func (st *runState) hit(n *Node, key string, ent *cache.Entry) *Result {
	var log []byte
	if ent.LogDigest != "" {
		log, _ = st.r.Cache.ReadLog(ent)
	}
	st.emit(Event{Node: n, State: Cached, Key: key, Log: log})
	return &Result{Node: n, State: Cached, Key: key, Entry: ent}
}

func (st *runState) compute(n *Node, key string, parts *KeyParts) *Result {
	ctx := st.ctx
	c := st.r.Cache
	w := n.Weight()
	if err := st.sem.Acquire(ctx, w); err != nil {
		return &Result{Node: n, State: Canceled, Key: key}
	}
	defer st.sem.Release(w)
	lease, err := c.Acquire(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return &Result{Node: n, State: Canceled, Key: key}
		}
		return st.fail(n, key, "acquire lease", err, nil)
	}
	defer lease.Release()
	// Another process may have computed it while we waited for the lease.
	if ent, err := c.Get(ctx, key); err == nil {
		return st.hit(n, key, ent)
	}
	tmp, err := c.TempDir("node-")
	if err != nil {
		return st.fail(n, key, "make scratch folder", err, nil)
	}
	defer os.RemoveAll(tmp)
	env, op, err := prepareEnv(c, n, tmp, func(up *Node) *cache.Entry { return st.results[up.index].Entry })
	if err != nil {
		return st.fail(n, key, op, err, nil)
	}
	env.Log = st.log.With("node", n.Name())
	start := time.Now()
	env.Progress = func(done, total int) {
		st.emit(Event{Node: n, State: Running, Key: key, Done: done, Total: total, Duration: time.Since(start)})
	}
	st.emit(Event{Node: n, State: Running, Key: key})
	// retries: N reruns a failed node up to N more times, each attempt with
	// a fresh output folder and log; only the last attempt's log is kept.
	out := &lockedBuffer{}
	for attempt := 1; ; attempt++ {
		env.Output = out
		err = st.exec.Execute(ctx, &Job{Node: n, Key: key, Env: env})
		if err == nil || ctx.Err() != nil || attempt > n.Spec.Retries {
			break
		}
		st.log.Warn("node failed; retrying", "node", n.Name(), "attempt", attempt, "attempts", n.Spec.Retries+1, "err", err)
		if err := freshDirs(env.OutDir, env.TempDir); err != nil {
			return st.fail(n, key, "make scratch folder", err, out.Bytes())
		}
		out = &lockedBuffer{}
	}
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return &Result{Node: n, State: Canceled, Key: key, Duration: elapsed}
	}
	if err != nil {
		res := st.fail(n, key, "run", err, out.Bytes())
		res.Duration = elapsed
		return res
	}
	metrics, err := readMetrics(filepath.Join(env.OutDir, "metrics.json"))
	if err != nil {
		return st.fail(n, key, "read metrics.json", err, out.Bytes())
	}
	rec := cache.Record{
		Kind: n.Kind.Name, Version: n.Kind.Version,
		Params: parts.Params, Inputs: parts.inputsJSON(), Extra: parts.filesJSON(),
		Duration: elapsed, Metrics: metrics, Log: out.Bytes(),
	}
	// A finished output is kept even if a cancel arrives now: it is complete.
	ent, err := c.Commit(context.WithoutCancel(ctx), key, env.OutDir, rec)
	if err != nil {
		res := st.fail(n, key, "store outputs", err, out.Bytes())
		res.Duration = elapsed
		return res
	}
	st.emit(Event{Node: n, State: Done, Key: key, Duration: elapsed, Log: out.Bytes()})
	return &Result{Node: n, State: Done, Key: key, Entry: ent, Duration: elapsed}
}

// prepareEnv lays out a node's scratch folder under tmp: its inputs
// materialized from the cache, an empty output folder and a temp folder. On
// error it names the failed operation.
func prepareEnv(c *cache.Cache, n *Node, tmp string, input func(*Node) *cache.Entry) (*nodes.Env, string, error) {
	env := &nodes.Env{
		Inputs:  map[string][]string{},
		OutDir:  filepath.Join(tmp, "out"),
		TempDir: filepath.Join(tmp, "tmp"),
	}
	for _, dir := range []string{env.OutDir, env.TempDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "make scratch folder", err
		}
	}
	for _, e := range n.Inputs {
		m := input(e.From).Manifest
		if e.Output != "" {
			m = m.Sub(e.Output)
		}
		dir := filepath.Join(tmp, "in", e.Slot, strconv.Itoa(e.Index))
		path := dir
		if len(m) == 1 && m[0].Path == "." {
			// A single-file output: materialize it under its own name.
			f := m[0]
			f.Path = filepath.Base(e.Output)
			m = cache.Manifest{f}
			path = filepath.Join(dir, f.Path)
		}
		if err := c.Materialize(m, dir); err != nil {
			return nil, fmt.Sprintf("materialize input %q", e.Slot), err
		}
		env.Inputs[e.Slot] = append(env.Inputs[e.Slot], path)
	}
	return env, "", nil
}

// freshDirs empties each of dirs (removing and recreating it).
func freshDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// readMetrics reads a node's metrics.json (if any) as flat name → number,
// flattening nested objects with dots; non-numbers are ignored.
func readMetrics(path string) (map[string]float64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case float64:
			out[prefix] = x
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				name := k
				if prefix != "" {
					name = prefix + "." + k
				}
				walk(name, x[k])
			}
		}
	}
	walk("", v)
	return out, nil
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.b.Bytes()...)
}
