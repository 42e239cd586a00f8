package dag

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"dagrun/cache"
)

// compute runs a node that missed the cache: it takes the node's share of
// the -j budget and the key's lease, lays out its scratch folder, runs it
// through the executor (with its retries) and commits the output with the
// key's parts.
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
	rec := parts.record()
	rec.Duration, rec.Metrics, rec.Log = elapsed, metrics, out.Bytes()
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
