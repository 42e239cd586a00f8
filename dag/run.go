package dag

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"time"

	"dagrun/cache"
)

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
	// Remote, when set, is asked for a key the local cache misses, and
	// receives what the run computes once it is committed locally.
	Remote Remote
}

// Remote is a second cache tier behind the local cache (remote.Tier).
type Remote interface {
	// Fetch registers key's remote entry in the local cache and returns
	// it; nil, nil on a miss. An error fails the node.
	Fetch(ctx context.Context, key string) (*cache.Entry, error)
	// Push sends a locally committed entry to the remote. An error fails
	// the node (its entry stays committed locally).
	Push(ctx context.Context, e *cache.Entry) error
}

// Runner executes graphs against a cache.
type Runner struct {
	Cache *cache.Cache
	Opts  Options
}

// runState is one Run of a graph: the scheduler's view of every node.
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

// flight is one computation of a key; nodes of the run with the same key
// wait for it instead of computing the key again.
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
	// Mark the run as a user of the cache, so that `cache gc` waits for it
	// instead of deleting what it produced or is about to read.
	endRun, err := r.Cache.BeginRun(ctx)
	if err != nil {
		return nil, err
	}
	defer endRun()
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

// miss is a ready node whose key is not in the cache.
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
			if st.ctx.Err() != nil {
				settled = append(settled, &Result{Node: n, State: Canceled})
				continue
			}
			settled = append(settled, st.fail(n, "", "fingerprint", err, ""))
			continue
		}
		misses = append(misses, miss{n: n, key: parts.Key(), parts: parts})
		keys = append(keys, misses[len(misses)-1].key)
	}
	found, err := c.GetMany(st.ctx, keys)
	var perKey map[string]error
	if err != nil && st.ctx.Err() == nil {
		// One bad key (a damaged index page, an unreadable blob) must not
		// fail the whole batch: look the keys up one by one, so that only
		// the nodes whose own lookup fails fail.
		found, perKey = map[string]*cache.Entry{}, map[string]error{}
		for _, m := range misses {
			ent, err := c.Get(st.ctx, m.key)
			switch {
			case err == nil:
				found[m.key] = ent
			case !errors.Is(err, cache.ErrNotFound):
				perKey[m.key] = err
			}
		}
	}
	var rest []miss
	for _, m := range misses {
		if ent, ok := found[m.key]; ok {
			settled = append(settled, st.hit(m.n, m.key, ent))
			continue
		}
		if err := perKey[m.key]; err != nil {
			settled = append(settled, st.fail(m.n, m.key, "cache lookup", err, ""))
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
			return st.fail(n, key, "shared run", f.err, "")
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

// hit settles n from its cache entry, replaying the tail of the entry's
// log (read from the end of its blob, never the whole of it).
func (st *runState) hit(n *Node, key string, ent *cache.Entry) *Result {
	var log []byte
	var before int64
	if ent.LogDigest != "" {
		log, before, _ = st.r.Cache.LogTail(ent, logTailLines, logTailBytes)
	}
	st.emit(Event{Node: n, State: Cached, Key: key, Log: log, LogBefore: before})
	return &Result{Node: n, State: Cached, Key: key, Entry: ent}
}
