package cache

import (
	"context"
	"time"
)

// KindStat sums the entries of one kind.
type KindStat struct {
	Kind    string
	Entries int
	// Compute is the total time the stored entries took to compute.
	Compute time.Duration
	// Hits counts the recorded node runs of this kind settled from the
	// cache (status "cached"), plus the per-entry hit counts that dagruns
	// older than the run history kept.
	Hits int64
	// Runs counts recorded node runs of this kind that computed (misses).
	Runs int64
}

// KindStats returns per-kind totals, sorted by kind.
func (c *Cache) KindStats(ctx context.Context) ([]KindStat, error) {
	rows, err := c.db.QueryContext(ctx, `
		WITH uses AS (SELECT key, sum(status = 'cached') AS hits, sum(status = 'done') AS runs
		                FROM run_nodes GROUP BY key)
		SELECT e.kind, count(*), sum(e.duration_ns), sum(e.hits + IFNULL(u.hits, 0)), sum(IFNULL(u.runs, 0))
		  FROM entries e LEFT JOIN uses u ON u.key = e.key
		 GROUP BY e.kind ORDER BY e.kind`)
	if err != nil {
		return nil, c.wrap("kind stats", err)
	}
	defer rows.Close()
	var out []KindStat
	for rows.Next() {
		var s KindStat
		var d int64
		if err := rows.Scan(&s.Kind, &s.Entries, &d, &s.Hits, &s.Runs); err != nil {
			return nil, c.wrap("kind stats", err)
		}
		s.Compute = time.Duration(d)
		out = append(out, s)
	}
	return out, c.wrap("kind stats", rows.Err())
}

// RunStat summarises one recorded run.
type RunStat struct {
	ID      int64
	Spec    string
	Created time.Time
	Nodes   int
	Cached  int
	Ran     int
	Failed  int
	// Compute is the time spent computing in this run.
	Compute time.Duration
	// Saved is what the cached nodes of this run once took to compute.
	Saved time.Duration
}

// RunStats returns the last limit runs, newest first.
func (c *Cache) RunStats(ctx context.Context, limit int) ([]RunStat, error) {
	rows, err := c.db.QueryContext(ctx, `
		SELECT r.id, r.spec, r.created_ns, count(n.node),
		       coalesce(sum(n.status = 'cached'), 0),
		       coalesce(sum(n.status = 'done'), 0),
		       coalesce(sum(n.status = 'failed'), 0),
		       coalesce(sum(CASE WHEN n.status = 'done' THEN n.duration_ns ELSE 0 END), 0),
		       coalesce(sum(CASE WHEN n.status = 'cached' THEN
		           (SELECT e.duration_ns FROM entries e WHERE e.key = n.key) ELSE 0 END), 0)
		  FROM runs r LEFT JOIN run_nodes n ON n.run_id = r.id
		 GROUP BY r.id ORDER BY r.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, c.wrap("run stats", err)
	}
	defer rows.Close()
	var out []RunStat
	for rows.Next() {
		var s RunStat
		var created, compute, saved int64
		if err := rows.Scan(&s.ID, &s.Spec, &created, &s.Nodes, &s.Cached, &s.Ran, &s.Failed, &compute, &saved); err != nil {
			return nil, c.wrap("run stats", err)
		}
		s.Created = time.Unix(0, created)
		s.Compute, s.Saved = time.Duration(compute), time.Duration(saved)
		out = append(out, s)
	}
	return out, c.wrap("run stats", rows.Err())
}
