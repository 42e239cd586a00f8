package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// EntryInfo summarizes an entry for listings (`dagrun cache ls`).
type EntryInfo struct {
	Key, Kind, Digest string
	Files             int
	Size              int64 // total size of the manifest's files
	Created, LastUse  time.Time
	Hits              int64
}

// Entries lists every entry, oldest first.
func (c *Cache) Entries(ctx context.Context) ([]EntryInfo, error) {
	// Uses are read off the run history (see RecordRun).
	rows, err := c.db.QueryContext(ctx, `WITH uses AS (
			SELECT r.key, max(u.created_ns) AS last, sum(r.status = 'cached') AS hits
			FROM run_nodes r JOIN runs u ON u.id = r.run_id GROUP BY r.key)
		SELECT e.key, e.kind, e.digest, count(m.path), IFNULL(sum(m.size), 0),
			e.created_ns, max(e.last_use_ns, IFNULL(us.last, 0)), e.hits + IFNULL(us.hits, 0)
		FROM entries e LEFT JOIN manifests m ON m.key = e.key LEFT JOIN uses us ON us.key = e.key
		GROUP BY e.key ORDER BY e.created_ns, e.key`)
	if err != nil {
		return nil, c.wrap("list entries", err)
	}
	defer rows.Close()
	var out []EntryInfo
	for rows.Next() {
		var ei EntryInfo
		var created, used int64
		if err := rows.Scan(&ei.Key, &ei.Kind, &ei.Digest, &ei.Files, &ei.Size, &created, &used, &ei.Hits); err != nil {
			return nil, c.wrap("list entries", err)
		}
		ei.Created, ei.LastUse = time.Unix(0, created), time.Unix(0, used)
		out = append(out, ei)
	}
	return out, c.wrap("list entries", rows.Err())
}

// Stats are the cache's sizes and counters.
type Stats struct {
	Entries, Blobs int
	Bytes          int64 // total size of the blobs
	Runs           int
	Hits, Misses   int64 // Get calls that found a usable entry, and the others
	Leases         int   // lease rows, live or not yet reclaimed
}

// Stats returns the cache's sizes and counters.
func (c *Cache) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := c.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM entries),
		(SELECT count(*) FROM blobs),
		(SELECT IFNULL(sum(size), 0) FROM blobs),
		(SELECT count(*) FROM runs),
		(SELECT value FROM counters WHERE name = 'hits'),
		(SELECT value FROM counters WHERE name = 'misses'),
		(SELECT count(*) FROM leases)`).Scan(&s.Entries, &s.Blobs, &s.Bytes, &s.Runs, &s.Hits, &s.Misses, &s.Leases)
	return s, c.wrap("stats", err)
}

// Problem is an inconsistency found by Verify. Key, Path and Digest are set
// where they apply; Path is "(log)" for an entry's console log.
type Problem struct{ Key, Path, Digest, Msg string }

func (p Problem) String() string {
	return fmt.Sprintf("key %q path %q blob %s: %s", p.Key, p.Path, p.Digest, p.Msg)
}

// Verify re-hashes every blob an entry refers to and reports the missing and
// corrupt ones (once per referring file), entries whose digest does not
// match their manifest, and index inconsistencies (SQLite's quick_check and
// foreign_key_check). It changes nothing. Unregistered blob files and
// unreferenced blobs are garbage for GC, not problems.
func (c *Cache) Verify(ctx context.Context) ([]Problem, error) {
	ps, err := c.verify(ctx)
	return ps, c.wrap("verify", err)
}

func (c *Cache) verify(ctx context.Context) ([]Problem, error) {
	var ps []Problem
	rows, err := c.db.QueryContext(ctx, `PRAGMA quick_check`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		if s != "ok" {
			ps = append(ps, Problem{Msg: "index: " + s})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = c.db.QueryContext(ctx, `PRAGMA foreign_key_check`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var table, parent string
		var rowid sql.NullInt64
		var fkid int
		if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
			rows.Close()
			return nil, err
		}
		ps = append(ps, Problem{Msg: fmt.Sprintf("index: a row of table %q refers to a missing row of %q", table, parent)})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// One snapshot of every entry with its manifest and log, and its blobs' sizes.
	rows, err = c.db.QueryContext(ctx, `SELECT e.key, e.digest, IFNULL(e.log_digest, ''),
			m.path, m.digest, m.size, m.exec, b.size
		FROM entries e
		LEFT JOIN manifests m ON m.key = e.key
		LEFT JOIN blobs b ON b.digest = m.digest
		ORDER BY e.key, m.path`)
	if err != nil {
		return nil, err
	}
	type ref struct{ key, path string }
	refs := map[string][]ref{}
	var digests []string
	addRef := func(d string, r ref) {
		if _, ok := refs[d]; !ok {
			digests = append(digests, d)
		}
		refs[d] = append(refs[d], r)
	}
	type ent struct {
		key, digest string
		m           Manifest
	}
	var ents []*ent
	for rows.Next() {
		var key, digest, logDigest string
		var mpath, mdigest sql.NullString
		var msize, bsize sql.NullInt64
		var mexec sql.NullBool
		if err := rows.Scan(&key, &digest, &logDigest, &mpath, &mdigest, &msize, &mexec, &bsize); err != nil {
			rows.Close()
			return nil, err
		}
		if len(ents) == 0 || ents[len(ents)-1].key != key {
			ents = append(ents, &ent{key: key, digest: digest})
			if logDigest != "" {
				addRef(logDigest, ref{key, "(log)"})
			}
		}
		if mpath.Valid {
			e := ents[len(ents)-1]
			e.m = append(e.m, File{Path: mpath.String, Digest: mdigest.String, Size: msize.Int64, Exec: mexec.Bool})
			addRef(mdigest.String, ref{key, mpath.String})
			if bsize.Valid && bsize.Int64 != msize.Int64 {
				ps = append(ps, Problem{Key: key, Path: mpath.String, Digest: mdigest.String,
					Msg: fmt.Sprintf("manifest says %d bytes, blob row says %d", msize.Int64, bsize.Int64)})
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, e := range ents {
		if d := e.m.Digest(); d != e.digest {
			ps = append(ps, Problem{Key: e.key, Digest: e.digest, Msg: "entry digest does not match its manifest (" + d + ")"})
		}
	}
	for _, d := range digests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var msg string
		p := c.BlobPath(d)
		if p == "" {
			msg = "invalid digest"
		} else if got, _, err := c.hashFile(p); errors.Is(err, fs.ErrNotExist) {
			msg = "blob file is missing"
		} else if err != nil {
			msg = "blob file is unreadable: " + err.Error()
		} else if got != d {
			msg = "blob content is corrupt (hashes to " + got + ")"
		}
		if msg != "" {
			for _, r := range refs[d] {
				ps = append(ps, Problem{Key: r.key, Path: r.path, Digest: d, Msg: msg})
			}
		}
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Key != ps[j].Key {
			return ps[i].Key < ps[j].Key
		}
		return ps[i].Path < ps[j].Path
	})
	return ps, nil
}

// GCReport says what GC removed.
type GCReport struct {
	Entries int   // entries deleted
	Blobs   int   // blob files deleted (unreferenced, or never registered)
	TmpDirs int   // scratch folders of processes that are gone
	Bytes   int64 // bytes freed by the blobs and scratch folders
}

// GC deletes the entries whose key is neither in keep nor used by one of the
// lastRuns most recent runs (of any spec), then the blobs no remaining
// entry refers to (rows and files, and blob files that were never
// registered), then the scratch folders of processes that are gone.
func (c *Cache) GC(ctx context.Context, keep map[string]bool, lastRuns int) (GCReport, error) {
	r, err := c.gc(ctx, keep, lastRuns)
	return r, c.wrap("gc", err)
}

func (c *Cache) gc(ctx context.Context, keep map[string]bool, lastRuns int) (GCReport, error) {
	var r GCReport
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		r = GCReport{}
		kept := map[string]bool{}
		for k, ok := range keep {
			if ok {
				kept[k] = true
			}
		}
		if lastRuns > 0 {
			keys, err := column[string](ctx, tx, `SELECT DISTINCT key FROM run_nodes
				WHERE run_id IN (SELECT id FROM runs ORDER BY id DESC LIMIT ?)`, lastRuns)
			if err != nil {
				return err
			}
			for _, k := range keys {
				kept[k] = true
			}
		}
		keys, err := column[string](ctx, tx, `SELECT key FROM entries`)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if kept[k] {
				continue
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE key = ?`, k); err != nil {
				return err
			}
			r.Entries++
		}
		unused, err := column[string](ctx, tx, `SELECT digest FROM blobs
			WHERE digest NOT IN (SELECT digest FROM manifests)
			AND digest NOT IN (SELECT log_digest FROM entries WHERE log_digest IS NOT NULL)`)
		if err != nil {
			return err
		}
		for _, d := range unused {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blobs WHERE digest = ?`, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return GCReport{}, err
	}
	// Files go only after the rows are committed (a crash before the commit
	// would bring back rows whose files were gone), and under the write
	// lock, so that no Commit registers a blob between the listing and the
	// unlinking; a Commit re-checks its files inside its own transaction.
	err = c.writeTx(ctx, func(tx *sql.Tx) error {
		known, err := column[string](ctx, tx, `SELECT digest FROM blobs`)
		if err != nil {
			return err
		}
		registered := make(map[string]bool, len(known))
		for _, d := range known {
			registered[d] = true
		}
		return c.removeUnregistered(registered, &r)
	})
	if err != nil {
		return r, err
	}
	n, b, err := c.removeStaleTmp()
	r.TmpDirs, r.Bytes = n, r.Bytes+b
	if err != nil {
		return r, fmt.Errorf("remove stale scratch folders: %w", err)
	}
	return r, nil
}

// removeUnregistered deletes the blob files whose digest is not registered.
func (c *Cache) removeUnregistered(registered map[string]bool, r *GCReport) error {
	root := filepath.Join(c.dir, "objects")
	shards, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, s := range shards {
		if !s.IsDir() || len(s.Name()) != 2 {
			continue
		}
		dir := filepath.Join(root, s.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		removed := false
		for _, f := range files {
			d := s.Name() + f.Name()
			if !validDigest(d) || registered[d] {
				continue
			}
			p := filepath.Join(dir, f.Name())
			fi, err := os.Lstat(p)
			if err != nil {
				continue
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			r.Blobs++
			r.Bytes += fi.Size()
			removed = true
		}
		if removed {
			if err := syncDir(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// column runs a query returning one column.
func column[T any](ctx context.Context, tx *sql.Tx, query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
