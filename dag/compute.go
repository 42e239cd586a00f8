package dag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"dagrun/cache"
	"dagrun/nodes"
)

// logTailLines is how many lines of a node's console output an event
// carries (on Done and on a cached replay); `dagrun log` prints the rest.
const logTailLines = 50

// logTailBytes bounds the tail an event carries, whatever its line lengths.
const logTailBytes = 64 << 10

// compute runs a node that missed the cache: it takes the node's share of
// the -j budget and the key's lease, lays out its scratch folder, runs it
// through the executor (with its retries), checks that it left its inputs
// and its external files as they were keyed, and commits the output with
// the key's parts. The node's console output goes to a file in the scratch
// folder, which becomes the entry's log blob: it is never held in memory.
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
		return st.fail(n, key, "acquire lease", err, "")
	}
	defer lease.Release()
	// Another process may have computed it while we waited for the lease.
	if ent, err := c.Get(ctx, key); err == nil {
		return st.hit(n, key, ent)
	}
	if rm := st.r.Opts.Remote; rm != nil {
		ent, err := rm.Fetch(ctx, key)
		if err != nil {
			if ctx.Err() != nil {
				return &Result{Node: n, State: Canceled, Key: key}
			}
			return st.fail(n, key, "remote fetch", err, "")
		}
		if ent != nil {
			return st.hit(n, key, ent)
		}
	}
	tmp, err := c.TempDir("node-")
	if err != nil {
		return st.fail(n, key, "make scratch folder", err, "")
	}
	defer os.RemoveAll(tmp)
	env, ins, op, err := prepareEnv(ctx, c, n, tmp, func(up *Node) *cache.Entry { return st.results[up.index].Entry })
	if err != nil {
		if ctx.Err() != nil {
			return &Result{Node: n, State: Canceled, Key: key}
		}
		return st.fail(n, key, op, err, "")
	}
	env.Log = st.log.With("node", n.Name())
	env.Fingerprint = parts.fileMap()
	env.ProcessGroup = func(pgid int) {
		if err := lease.SetGroup(pgid); err != nil {
			st.log.Warn("record the node's process group in its lease", "node", n.Name(), "err", err)
		}
	}
	start := time.Now()
	env.Progress = func(done, total int) {
		st.emit(Event{Node: n, State: Running, Key: key, Done: done, Total: total, Duration: time.Since(start)})
	}
	st.emit(Event{Node: n, State: Running, Key: key})
	// retries: N reruns a failed node up to N more times, each attempt with
	// a fresh output folder and log; only the last attempt's log is kept.
	logPath := filepath.Join(tmp, "log")
	for attempt := 1; ; attempt++ {
		logf, lerr := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
		if lerr != nil {
			return st.fail(n, key, "create log", lerr, "")
		}
		env.Output = logf
		err = st.exec.Execute(ctx, &Job{Node: n, Key: key, Env: env})
		logf.Close()
		if err == nil || ctx.Err() != nil || attempt > n.Spec.Retries {
			break
		}
		st.log.Warn("node failed; retrying", "node", n.Name(), "attempt", attempt, "attempts", n.Spec.Retries+1, "err", err)
		if err := freshDirs(env.OutDir, env.TempDir); err != nil {
			return st.fail(n, key, "make scratch folder", err, logTail(logPath, failTailLines))
		}
	}
	elapsed := time.Since(start)
	if ctx.Err() != nil {
		return &Result{Node: n, State: Canceled, Key: key, Duration: elapsed}
	}
	failed := func(op string, err error) *Result {
		res := st.fail(n, key, op, err, logTail(logPath, failTailLines))
		res.Duration = elapsed
		return res
	}
	if err != nil {
		return failed("run", err)
	}
	if err := checkNodeInputs(ctx, ins); err != nil {
		return failed("check inputs", err)
	}
	if err := recheckFiles(ctx, n, c, parts); err != nil {
		return failed("check external files", err)
	}
	metrics, err := readMetrics(filepath.Join(env.OutDir, "metrics.json"))
	if err != nil {
		return failed("read metrics.json", err)
	}
	tail, before := logTailBefore(logPath, logTailLines)
	rec := parts.record()
	rec.Duration, rec.Metrics, rec.LogFile, rec.InputsChecked = elapsed, metrics, logPath, true
	// A finished output is kept even if a cancel arrives now: it is complete.
	ent, err := c.Commit(context.WithoutCancel(ctx), key, env.OutDir, rec)
	if err != nil {
		return failed("store outputs", err)
	}
	if rm := st.r.Opts.Remote; rm != nil {
		if err := rm.Push(context.WithoutCancel(ctx), ent); err != nil {
			return failed("remote push", err)
		}
	}
	st.emit(Event{Node: n, State: Done, Key: key, Duration: elapsed, Log: tail, LogBefore: before})
	return &Result{Node: n, State: Done, Key: key, Entry: ent, Duration: elapsed}
}

// recheckFiles computes n's external file digests again after it ran and
// reports a file that changed since its key was computed (while the node
// waited for a -j slot or a lease, or while it ran): its output may come
// from either content and must not be stored under the old key. Digests
// are memoized by stat (ctime included), so an unchanged file costs a stat.
func recheckFiles(ctx context.Context, n *Node, h nodes.FileHasher, parts *KeyParts) error {
	fp, ok := n.Impl.(nodes.Fingerprinter)
	if !ok || len(parts.Files) == 0 {
		return nil
	}
	files, err := fp.Fingerprint(ctx, withContext(ctx, h))
	if err != nil {
		return err
	}
	for _, f := range parts.Files {
		if now := files[f.Name]; now != f.Digest {
			return fmt.Errorf("%s changed after the node's key was computed (digest %s, now %s); nothing was stored, rerun to key the new content", f.Name, short(f.Digest), shortOrGone(now))
		}
	}
	return nil
}

func shortOrGone(d string) string {
	if d == "" {
		return "gone"
	}
	return short(d)
}

// failTailLines is how many lines of output a failure's message quotes.
const failTailLines = 10

// logTail returns the last lines of the log file at path ("" when there is
// none).
func logTail(path string, lines int) string {
	b, _ := logTailBefore(path, lines)
	return string(b)
}

// logTailBefore returns the last lines of the log file at path, at most
// logTailBytes of them, and how many bytes of the log come before them.
func logTailBefore(path string, lines int) ([]byte, int64) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0
	}
	defer f.Close()
	b, before, err := cache.FileTail(f, lines, logTailBytes)
	if err != nil {
		return nil, 0
	}
	return b, before
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
