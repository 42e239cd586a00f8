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

	"golang.org/x/sys/unix"
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
	// Hits and Misses are the counters: nodes recorded by RecordRun as
	// "cached" (hits) and as "done" (misses), plus one miss for each lookup
	// that dropped its entry for a bad blob (so a node recomputed after
	// that counts twice). Other lookups, hits or misses, count nothing
	// (plan and show are no uses); what older dagruns counted per lookup
	// stays in them.
	Hits, Misses int64
	// RemoteHits counts the entries imported from a remote tier (Importer)
	// and RemoteBytes the bytes of their blobs.
	RemoteHits, RemoteBytes int64
	Leases                  int // lease rows, live or not yet reclaimed
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
		(SELECT value FROM counters WHERE name = 'remote_hits'),
		(SELECT value FROM counters WHERE name = 'remote_bytes'),
		(SELECT count(*) FROM leases)`).Scan(&s.Entries, &s.Blobs, &s.Bytes, &s.Runs, &s.Hits, &s.Misses,
		&s.RemoteHits, &s.RemoteBytes, &s.Leases)
	return s, c.wrap("stats", err)
}

// Problem is an inconsistency found by Verify. Key, Path and Digest are set
// where they apply; Path is "(log)" for an entry's console log.
type Problem struct{ Key, Path, Digest, Msg string }

func (p Problem) String() string {
	return fmt.Sprintf("key %q path %q blob %s: %s", p.Key, p.Path, p.Digest, p.Msg)
}

// Verify re-hashes every blob an entry refers to and reports the missing,
// corrupt, unreadable and non-regular ones (once per referring file),
// entries whose digest does not match their manifest or that name an
// invalid digest, manifest sizes that disagree with the blob row, and index
// inconsistencies (SQLite's quick_check and foreign_key_check).
//
// It evicts what it finds bad, so that the next run recomputes it instead
// of trusting it: the entries holding a bad blob and the entries whose
// digest is wrong are dropped (see evict: with them go the entries an older
// dagrun computed from their outputs without checking its inputs, each
// reported as a problem of its own), corrupt blob files are removed and
// things that are not regular files are moved to <dir>/quarantine.
// Index inconsistencies are only reported. Unregistered blob files and
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
	badEntries := map[string]string{}
	for _, e := range ents {
		if d := e.m.Digest(); d != e.digest {
			badEntries[e.key] = "its digest does not match its manifest"
		}
	}
	var bads []badBlob
	for _, d := range digests {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var msg string
		var bad *badBlob
		p := c.BlobPath(d)
		if p == "" {
			msg = "invalid digest"
			for _, r := range refs[d] {
				badEntries[r.key] = "it names an invalid digest"
			}
		} else if st, err := statFile(p); isMissing(err) {
			msg = "blob file is missing"
			bad = &badBlob{digest: d, msg: msg}
		} else if errors.Is(err, errNotRegular) {
			msg = "blob is not a regular file"
			bad = &badBlob{digest: d, msg: msg, irregular: true}
		} else if err != nil {
			msg = "blob file is unreadable: " + err.Error()
			bad = &badBlob{digest: d, msg: msg}
		} else if got, _, err := c.hashFile(ctx, p); ctx.Err() != nil {
			return nil, ctx.Err()
		} else if err != nil {
			msg = "blob file is unreadable: " + err.Error()
			bad = &badBlob{digest: d, msg: msg}
		} else if got != d {
			msg = "blob content is corrupt (hashes to " + got + ")"
			bad = &badBlob{digest: d, msg: msg, inode: st.inode}
		}
		if msg != "" {
			for _, r := range refs[d] {
				ps = append(ps, Problem{Key: r.key, Path: r.path, Digest: d, Msg: msg})
			}
		}
		if bad != nil {
			bads = append(bads, *bad)
		}
	}
	if len(badEntries) > 0 || len(bads) > 0 {
		dropped, err := c.evict(ctx, badEntries, bads)
		if err != nil {
			return nil, err
		}
		for _, d := range dropped {
			if d.Downstream {
				ps = append(ps, Problem{Key: d.Key, Msg: "evicted: " + d.Why})
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
	Leases  int   // lease rows of owners that are gone or expired
	Bytes   int64 // bytes freed by the blobs and scratch folders
}

// GC deletes the entries whose key is neither in keep nor used by one of the
// lastRuns most recent runs (of any spec), then the blobs no remaining
// entry refers to (rows and files, and blob files that were never
// registered), then the scratch folders of processes that are gone and the
// lease rows of owners that are gone or expired.
//
// It first waits (logging once) until no run is using the cache (see
// BeginRun), and holds runs off while it deletes: it never deletes what a
// live run has produced or is about to read. A negative lastRuns is an
// error.
func (c *Cache) GC(ctx context.Context, keep map[string]bool, lastRuns int) (GCReport, error) {
	if lastRuns < 0 {
		return GCReport{}, c.wrap("gc", fmt.Errorf("cannot keep the last %d runs", lastRuns))
	}
	lock, err := c.flockRuns(ctx, unix.LOCK_EX, func() {
		c.log.Warn("cache: gc waits for the runs using the cache to end")
	})
	if err != nil {
		return GCReport{}, c.wrap("gc", err)
	}
	defer lock.Close()
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
	if r.Leases, err = c.removeStaleLeases(ctx); err != nil {
		return r, fmt.Errorf("remove stale leases: %w", err)
	}
	return r, nil
}

// removeStaleLeases deletes the lease rows whose owner is gone (on this
// host) or whose lease expired, as Acquire would take them over, ending a
// dead owner's orphaned process group first.
func (c *Cache) removeStaleLeases(ctx context.Context) (int, error) {
	n := 0
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, `SELECT key, owner, host, pid, pid_start, expires_ns, pgid, pgid_start FROM leases`)
		if err != nil {
			return err
		}
		var stale []leaseRow
		now := c.now().UnixNano()
		for rows.Next() {
			var l leaseRow
			if err := rows.Scan(&l.key, &l.owner, &l.host, &l.pid, &l.start, &l.expires, &l.pgid, &l.pgidStart); err != nil {
				rows.Close()
				return err
			}
			if l.expires <= now || c.gone(l.host, l.pid, l.start) {
				stale = append(stale, l)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, l := range stale {
			c.endOrphans(l)
			if _, err := tx.ExecContext(ctx, `DELETE FROM leases WHERE key = ? AND owner = ?`, l.key, l.owner); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
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
