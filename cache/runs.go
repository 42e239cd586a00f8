package cache

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// RunNode is one node's outcome in a recorded run.
type RunNode struct {
	Node     string
	Key      string
	Digest   string // output digest; "" when the node produced none
	Status   string // opaque to the cache, e.g. "cached", "done", "failed", "skipped"
	Duration time.Duration
}

// RecordRun records a run of spec with its nodes, in one transaction, and
// returns its id. Runs are what GC's lastRuns and LastRun look at. Nodes
// with status "cached" count as hits of their entries (and their uses),
// "done" ones as misses.
func (c *Cache) RecordRun(ctx context.Context, spec string, nodes []RunNode) (runID int64, err error) {
	err = c.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs (spec, created_ns) VALUES (?, ?)`, spec, c.now().UnixNano())
		if err != nil {
			return err
		}
		if runID, err = res.LastInsertId(); err != nil {
			return err
		}
		// One statement for all rows: SQLite walks the JSON array itself,
		// which for 10,000 nodes is far cheaper than 10,000 inserts.
		type row struct {
			Node     string `json:"n"`
			Key      string `json:"k"`
			Digest   string `json:"d"`
			Status   string `json:"s"`
			Duration int64  `json:"t"`
		}
		rows := make([]row, len(nodes))
		hits, misses := 0, 0
		for i, n := range nodes {
			rows[i] = row{n.Node, n.Key, n.Digest, n.Status, int64(n.Duration)}
			switch n.Status {
			case "cached":
				hits++
			case "done":
				misses++
			}
		}
		js, err := json.Marshal(rows)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO run_nodes (run_id, node, key, digest, status, duration_ns)
			SELECT ?, value->>'n', value->>'k', value->>'d', value->>'s', value->>'t' FROM json_each(?)`, runID, string(js)); err != nil {
			return fmt.Errorf("record nodes: %w", err)
		}
		// A run's hits and uses are these rows themselves: Entries and
		// KindStats count them, so nothing else is rewritten per run.
		if _, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + ? WHERE name = 'hits'`, hits); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE counters SET value = value + ? WHERE name = 'misses'`, misses)
		return err
	})
	if err != nil {
		return 0, c.wrap(fmt.Sprintf("record run of %q", spec), err)
	}
	return runID, nil
}

// LastRun returns, for the latest recorded run of spec, each node's row by
// node name; an empty map when spec was never run.
func (c *Cache) LastRun(ctx context.Context, spec string) (map[string]RunNode, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT node, key, digest, status, duration_ns FROM run_nodes
		WHERE run_id = (SELECT max(id) FROM runs WHERE spec = ?)`, spec)
	if err != nil {
		return nil, c.wrap(fmt.Sprintf("last run of %q", spec), err)
	}
	defer rows.Close()
	out := map[string]RunNode{}
	for rows.Next() {
		var n RunNode
		var d int64
		if err := rows.Scan(&n.Node, &n.Key, &n.Digest, &n.Status, &d); err != nil {
			return nil, c.wrap(fmt.Sprintf("last run of %q", spec), err)
		}
		n.Duration = time.Duration(d)
		out[n.Node] = n
	}
	return out, c.wrap(fmt.Sprintf("last run of %q", spec), rows.Err())
}
