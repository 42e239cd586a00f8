package dag

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"

	"dagrun/cache"
)

// AuditResult is the outcome of recomputing one cached node.
type AuditResult struct {
	Node       *Node
	Key        string
	Parts      *KeyParts
	Cached     string // digest in the cache
	Recomputed string // digest of the fresh output ("" on error)
	Err        error
}

// Deterministic reports whether the recomputation reproduced the cache.
func (r *AuditResult) Deterministic() bool { return r.Err == nil && r.Cached == r.Recomputed }

// Audit recomputes up to sample cached nodes of g, chosen by a PCG seeded
// with seed, and compares their fresh output digests with the cached ones.
// Nothing is written to the cache: a mismatch is nondeterminism (or an
// input the key does not capture), reported with both digests.
func Audit(ctx context.Context, g *Graph, c *cache.Cache, sample int, seed uint64, exec Executor) ([]*AuditResult, error) {
	if exec == nil {
		exec = Local{}
	}
	// Audits read entries and materialize them: `cache gc` waits.
	endRun, err := c.BeginRun(ctx)
	if err != nil {
		return nil, err
	}
	defer endRun()
	p, err := MakePlan(ctx, g, c, "")
	if err != nil {
		return nil, err
	}
	entries := make(map[*Node]*cache.Entry, len(p.Items))
	var cached []*PlanItem
	for _, it := range p.Items {
		if it.Entry != nil {
			entries[it.Node] = it.Entry
			cached = append(cached, it)
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x6175646974))
	rng.Shuffle(len(cached), func(i, j int) { cached[i], cached[j] = cached[j], cached[i] })
	if sample < len(cached) {
		cached = cached[:sample]
	}
	var out []*AuditResult
	for _, it := range cached {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		res := &AuditResult{Node: it.Node, Key: it.Key, Parts: it.Parts, Cached: it.Entry.Digest}
		res.Recomputed, res.Err = recompute(ctx, c, it, entries, exec)
		out = append(out, res)
	}
	return out, nil
}

func recompute(ctx context.Context, c *cache.Cache, it *PlanItem, entries map[*Node]*cache.Entry, exec Executor) (string, error) {
	n := it.Node
	tmp, err := c.TempDir("audit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	env, ins, op, err := prepareEnv(ctx, c, n, tmp, func(up *Node) *cache.Entry { return entries[up] })
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	env.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	env.Output = io.Discard
	if err := exec.Execute(ctx, &Job{Node: n, Key: it.Key, Env: env}); err != nil {
		return "", &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: "run", Err: err}
	}
	if err := checkNodeInputs(ctx, ins); err != nil {
		return "", &NodeError{Node: n.Name(), Kind: n.Kind.Name, Op: "check inputs", Err: err}
	}
	m, err := c.HashDir(env.OutDir)
	if err != nil {
		return "", err
	}
	return m.Digest(), nil
}
