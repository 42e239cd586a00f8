package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Get returns the entry stored under key, or ErrNotFound (unwrapped). Blob
// files whose (size, mtime, inode) are as recorded are trusted without
// hashing; the others are re-hashed. When a blob is missing or its content
// is wrong, Get logs a warning naming the key and the blob, drops the entry
// so that it is recomputed, and returns ErrNotFound. A hit bumps the
// entry's hit count and last use.
func (c *Cache) Get(ctx context.Context, key string) (*Entry, error) {
	e, err := c.get(ctx, key)
	return e, c.wrap(fmt.Sprintf("get %q", key), err)
}

// recorded is a blob of an entry as the index knows it.
type recorded struct {
	digest string
	stat   blobStat
	known  bool   // the blobs row exists
	path   string // a manifest path using it, for messages
}

func (c *Cache) get(ctx context.Context, key string) (*Entry, error) {
	e, blobs, err := c.load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		if err := c.count(ctx, "misses"); err != nil {
			return nil, err
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	type bad struct {
		recorded
		msg   string
		inode uint64 // of the corrupt file, 0 when missing
	}
	var bads []bad
	var refreshed []recorded
	for _, b := range blobs {
		p := c.BlobPath(b.digest)
		st, err := statFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bads = append(bads, bad{b, "blob file is missing", 0})
			continue
		case err != nil:
			return nil, err
		case b.known && st == b.stat:
			continue
		}
		d, _, err := c.hashFile(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			bads = append(bads, bad{b, "blob file is missing", 0})
		case err != nil:
			return nil, err
		case d != b.digest:
			bads = append(bads, bad{b, "blob content is corrupt (hashes to " + d + ")", st.inode})
		default:
			b.stat = st
			refreshed = append(refreshed, b)
		}
	}
	now := c.now().UnixNano()
	if len(bads) > 0 {
		for _, b := range bads {
			c.log.Warn("cache: dropping entry with a bad blob; it will be recomputed",
				"key", key, "blob", b.digest, "file", b.path, "blob_path", c.BlobPath(b.digest), "problem", b.msg)
		}
		err := c.writeTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE key = ?`, key); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'misses'`)
			return err
		})
		if err == nil {
			// Under the write lock, remove a corrupt file unless a Commit
			// replaced it meanwhile, so that the recomputed entry's Commit
			// places a good one.
			err = c.writeTx(ctx, func(*sql.Tx) error {
				for _, b := range bads {
					p := c.BlobPath(b.digest)
					if st, err := statFile(p); err == nil && b.inode != 0 && st.inode == b.inode {
						if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
							return err
						}
					}
				}
				return nil
			})
		}
		if err != nil {
			return nil, fmt.Errorf("drop entry: %w", err)
		}
		return nil, ErrNotFound
	}
	err = c.writeTx(ctx, func(tx *sql.Tx) error {
		for _, b := range refreshed {
			if _, err := tx.ExecContext(ctx, `UPDATE blobs SET size = ?, mtime_ns = ?, inode = ? WHERE digest = ?`,
				b.stat.size, b.stat.mtime, int64(b.stat.inode), b.digest); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE entries SET hits = hits + 1, last_use_ns = ? WHERE key = ?`, now, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE blobs SET last_use_ns = ? WHERE digest IN
			(SELECT digest FROM manifests WHERE key = ? UNION SELECT log_digest FROM entries WHERE key = ?)`, now, key, key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'hits'`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("record hit: %w", err)
	}
	return e, nil
}

// count bumps a counter.
func (c *Cache) count(ctx context.Context, name string) error {
	_, err := c.db.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = ?`, name)
	return err
}

// load reads an entry, its manifest and its blobs' recorded stats in one
// statement (one snapshot), then its metrics.
func (c *Cache) load(ctx context.Context, key string) (*Entry, []recorded, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT e.digest, e.kind, e.version, e.params, e.inputs, e.extra,
			e.duration_ns, IFNULL(e.log_digest, ''), e.created_ns,
			lb.size, lb.mtime_ns, lb.inode,
			m.path, m.digest, m.size, m.exec, b.size, b.mtime_ns, b.inode
		FROM entries e
		LEFT JOIN blobs lb ON lb.digest = e.log_digest
		LEFT JOIN manifests m ON m.key = e.key
		LEFT JOIN blobs b ON b.digest = m.digest
		WHERE e.key = ? ORDER BY m.path`, key)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var e *Entry
	var blobs []recorded
	seen := map[string]bool{}
	add := func(digest, path string, size, mtime, inode sql.NullInt64) {
		if seen[digest] {
			return
		}
		seen[digest] = true
		blobs = append(blobs, recorded{digest: digest, path: path, known: size.Valid,
			stat: blobStat{size: size.Int64, mtime: mtime.Int64, inode: uint64(inode.Int64)}})
	}
	for rows.Next() {
		var (
			ent                    Entry
			dur, created           int64
			lsize, lmtime, linode  sql.NullInt64
			mpath, mdigest         sql.NullString
			msize, bsize, bm, bino sql.NullInt64
			mexec                  sql.NullBool
		)
		if err := rows.Scan(&ent.Digest, &ent.Record.Kind, &ent.Record.Version, &ent.Record.Params,
			&ent.Record.Inputs, &ent.Record.Extra, &dur, &ent.LogDigest, &created,
			&lsize, &lmtime, &linode, &mpath, &mdigest, &msize, &mexec, &bsize, &bm, &bino); err != nil {
			return nil, nil, err
		}
		if e == nil {
			ent.Key = key
			ent.Record.Duration = time.Duration(dur)
			ent.Created = time.Unix(0, created)
			e = &ent
			if e.LogDigest != "" {
				add(e.LogDigest, "(log)", lsize, lmtime, linode)
			}
		}
		if mpath.Valid {
			e.Manifest = append(e.Manifest, File{Path: mpath.String, Digest: mdigest.String, Size: msize.Int64, Exec: mexec.Bool})
			add(mdigest.String, mpath.String, bsize, bm, bino)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, ErrNotFound
	}
	if e.Record.Metrics, err = c.metrics(ctx, key); err != nil {
		return nil, nil, err
	}
	return e, blobs, nil
}

// Metrics returns the metrics recorded with the entry for key (NaN
// included), or ErrNotFound (unwrapped) when there is no such entry.
func (c *Cache) Metrics(ctx context.Context, key string) (map[string]float64, error) {
	var n int
	if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM entries WHERE key = ?`, key).Scan(&n); err != nil {
		return nil, c.wrap(fmt.Sprintf("metrics of %q", key), err)
	}
	if n == 0 {
		return nil, ErrNotFound
	}
	m, err := c.metrics(ctx, key)
	return m, c.wrap(fmt.Sprintf("metrics of %q", key), err)
}

func (c *Cache) metrics(ctx context.Context, key string) (map[string]float64, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, value FROM metrics WHERE key = ?`, key)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]float64{}
	for rows.Next() {
		var name string
		var v sql.NullFloat64
		if err := rows.Scan(&name, &v); err != nil {
			return nil, err
		}
		if v.Valid {
			m[name] = v.Float64
		} else {
			m[name] = math.NaN()
		}
	}
	return m, rows.Err()
}

// Materialize makes the files of m appear under dst: each is a hard link to
// its blob (a copy when linking fails, e.g. across file systems), read-only;
// files with the execute bit are copied with mode 0555, since a blob is
// shared by every manifest that holds it. A file with Path "." (from Sub of
// a single file) becomes dst itself. Folders are created as needed and an
// existing file at a destination is replaced.
func (c *Cache) Materialize(m Manifest, dst string) error {
	for _, f := range m {
		if err := c.materialize(f, dst); err != nil {
			return c.wrap(fmt.Sprintf("materialize %q into %q", f.Path, dst), err)
		}
	}
	return nil
}

func (c *Cache) materialize(f File, dst string) error {
	clean := path.Clean(f.Path)
	if clean != f.Path || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("path %q is not a clean relative path", f.Path)
	}
	blob := c.BlobPath(f.Digest)
	if blob == "" {
		return fmt.Errorf("invalid digest %q", f.Digest)
	}
	target := filepath.Join(dst, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if f.Exec {
		return copyBlob(blob, target, 0o555, f.Digest)
	}
	err := os.Link(blob, target)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(blob); serr != nil {
			return fmt.Errorf("blob %s is missing", f.Digest)
		}
		return err
	}
	if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EMLINK) {
		return copyBlob(blob, target, 0o444, f.Digest)
	}
	return err
}

func copyBlob(blob, target string, perm os.FileMode, digest string) error {
	err := copyFile(blob, target, perm)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(blob); serr != nil {
			return fmt.Errorf("blob %s is missing", digest)
		}
	}
	if err == nil {
		err = os.Chmod(target, perm) // the umask may have cleared bits
	}
	return err
}

// ReadLog returns the console output stored with e, checking its digest.
func (c *Cache) ReadLog(e *Entry) ([]byte, error) {
	if e.LogDigest == "" {
		return nil, nil
	}
	op := fmt.Sprintf("read log of %q", e.Key)
	p := c.BlobPath(e.LogDigest)
	if p == "" {
		return nil, c.wrap(op, fmt.Errorf("invalid digest %q", e.LogDigest))
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	h := newHasher()
	h.Write(b)
	c.hashed.Add(int64(len(b)))
	if d := h.hex(); d != e.LogDigest {
		return nil, c.wrap(op, fmt.Errorf("blob %s is corrupt (hashes to %s)", e.LogDigest, d))
	}
	return b, nil
}
