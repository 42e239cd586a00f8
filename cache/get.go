package cache

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
// hashing; the others are re-hashed, and a good one has its recorded stat
// refreshed. When a blob is missing (or its shard is a file), is not a
// regular file, or its content is wrong, Get logs a warning naming the key
// and the blob, evicts it (the entries holding it and those computed from
// them unchecked; see evict), counts one miss in the counters and returns
// ErrNotFound, so that the entry is recomputed. Any other failure to stat
// a blob is an error. A hit writes nothing: uses are counted per run by
// RecordRun.
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
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var bads []badBlob
	var refreshed []recorded
	for _, b := range blobs {
		p := c.BlobPath(b.digest)
		st, err := statFile(p)
		switch {
		case isMissing(err):
			bads = append(bads, badBlob{digest: b.digest, msg: "blob file is missing"})
			continue
		case errors.Is(err, errNotRegular):
			bads = append(bads, badBlob{digest: b.digest, msg: "blob is not a regular file", irregular: true})
			continue
		case err != nil:
			return nil, err
		case b.known && st == b.stat:
			continue
		}
		d, _, err := c.hashFile(ctx, p)
		switch {
		case isMissing(err):
			bads = append(bads, badBlob{digest: b.digest, msg: "blob file is missing"})
		case errors.Is(err, errNotRegular):
			bads = append(bads, badBlob{digest: b.digest, msg: "blob is not a regular file", irregular: true})
		case err != nil:
			return nil, err
		case d != b.digest:
			bads = append(bads, badBlob{digest: b.digest, msg: "blob content is corrupt (hashes to " + d + ")", inode: st.inode})
		default:
			b.stat = st
			refreshed = append(refreshed, b)
		}
	}
	if len(bads) > 0 {
		for _, b := range bads {
			file := ""
			for _, r := range blobs {
				if r.digest == b.digest {
					file = r.path
				}
			}
			c.log.Warn("cache: dropping entry with a bad blob; it will be recomputed",
				"key", key, "blob", b.digest, "file", file, "blob_path", c.BlobPath(b.digest), "problem", b.msg)
		}
		if _, err := c.evict(ctx, nil, bads); err != nil {
			return nil, fmt.Errorf("drop entry: %w", err)
		}
		err := c.writeTx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'misses'`)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("drop entry: %w", err)
		}
		return nil, ErrNotFound
	}
	if len(refreshed) > 0 {
		// A blob re-hashed and found good (its stat changed, e.g. a copy
		// of the cache): remember its new stat so it is trusted again.
		err = c.writeTx(ctx, func(tx *sql.Tx) error {
			for _, b := range refreshed {
				if _, err := tx.ExecContext(ctx, `UPDATE blobs SET size = ?, mtime_ns = ?, inode = ? WHERE digest = ?`,
					b.stat.size, b.stat.mtime, int64(b.stat.inode), b.digest); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("refresh blob stats: %w", err)
		}
	}
	// Hits, misses and last use are recorded per run by RecordRun, so a
	// lookup is a read: lookups of many nodes run in parallel under WAL
	// and `plan` or `show` do not count as uses.
	return e, nil
}

// load reads an entry, its manifest and its blobs' recorded stats in one
// statement (one snapshot), then its metrics.
func (c *Cache) load(ctx context.Context, key string) (*Entry, []recorded, error) {
	rows, err := c.stmts.load.QueryContext(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	got, err := scanEntries(rows)
	if err != nil {
		return nil, nil, err
	}
	l := got[key]
	if l == nil {
		return nil, nil, ErrNotFound
	}
	if l.e.Record.Metrics, err = c.metrics(ctx, key); err != nil {
		return nil, nil, err
	}
	return l.e, l.blobs, nil
}

// loaded is an entry as read from the index, with its blobs' stats.
type loaded struct {
	e     *Entry
	blobs []recorded
}

// scanEntries reads the rows of loadSQL or loadManySQL (ordered by key,
// then path) and closes them.
func scanEntries(rows *sql.Rows) (map[string]*loaded, error) {
	defer rows.Close()
	out := map[string]*loaded{}
	var cur *loaded
	var seen map[string]bool
	add := func(digest, path string, size, mtime, inode sql.NullInt64) {
		if seen[digest] {
			return
		}
		seen[digest] = true
		cur.blobs = append(cur.blobs, recorded{digest: digest, path: path, known: size.Valid,
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
		if err := rows.Scan(&ent.Key, &ent.Digest, &ent.Record.Kind, &ent.Record.Version, &ent.Record.Params,
			&ent.Record.Inputs, &ent.Record.Extra, &dur, &ent.LogDigest, &created,
			&lsize, &lmtime, &linode, &mpath, &mdigest, &msize, &mexec, &bsize, &bm, &bino); err != nil {
			return nil, err
		}
		if cur == nil || cur.e.Key != ent.Key {
			ent.Record.Duration = time.Duration(dur)
			ent.Created = time.Unix(0, created)
			cur = &loaded{e: &ent}
			seen = map[string]bool{}
			out[ent.Key] = cur
			if ent.LogDigest != "" {
				ent.LogSize = lsize.Int64
				add(ent.LogDigest, "(log)", lsize, lmtime, linode)
			}
		}
		if mpath.Valid {
			cur.e.Manifest = append(cur.e.Manifest, File{Path: mpath.String, Digest: mdigest.String, Size: msize.Int64, Exec: mexec.Bool})
			add(mdigest.String, mpath.String, bsize, bm, bino)
		}
	}
	return out, rows.Err()
}

// GetMany looks up many keys at once (a few queries instead of one per
// key) and returns the entries found; absent keys are absent from the map.
// An entry whose blobs' stats all match the index is returned as read; any
// other goes through Get's checks (re-hash; a bad blob drops the entry with
// a warning and leaves it out).
func (c *Cache) GetMany(ctx context.Context, keys []string) (map[string]*Entry, error) {
	out := make(map[string]*Entry, len(keys))
	const chunk = 500
	for start := 0; start < len(keys); start += chunk {
		part := keys[start:min(start+chunk, len(keys))]
		js, err := json.Marshal(part)
		if err != nil {
			return nil, c.wrap("get many", err)
		}
		rows, err := c.db.QueryContext(ctx, loadManySQL, string(js))
		if err != nil {
			return nil, c.wrap("get many", err)
		}
		got, err := scanEntries(rows)
		if err != nil {
			return nil, c.wrap("get many", err)
		}
		if len(got) == 0 {
			continue
		}
		mrows, err := c.db.QueryContext(ctx, metricsManySQL, string(js))
		if err != nil {
			return nil, c.wrap("get many", err)
		}
		for mrows.Next() {
			var key, name string
			var v sql.NullFloat64
			if err := mrows.Scan(&key, &name, &v); err != nil {
				mrows.Close()
				return nil, c.wrap("get many", err)
			}
			if l := got[key]; l != nil {
				if l.e.Record.Metrics == nil {
					l.e.Record.Metrics = map[string]float64{}
				}
				if v.Valid {
					l.e.Record.Metrics[name] = v.Float64
				} else {
					l.e.Record.Metrics[name] = math.NaN()
				}
			}
		}
		mrows.Close()
		if err := mrows.Err(); err != nil {
			return nil, c.wrap("get many", err)
		}
		for key, l := range got {
			if l.e.Record.Metrics == nil {
				l.e.Record.Metrics = map[string]float64{}
			}
			trusted := true
			for _, b := range l.blobs {
				st, err := statFile(c.BlobPath(b.digest))
				if err != nil || !b.known || st != b.stat {
					trusted = false
					break
				}
			}
			if trusted {
				out[key] = l.e
				continue
			}
			e, err := c.Get(ctx, key)
			switch {
			case err == nil:
				out[key] = e
			case !errors.Is(err, ErrNotFound):
				return nil, err
			}
		}
	}
	return out, nil
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
	rows, err := c.stmts.metrics.QueryContext(ctx, key)
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
// It holds the whole log in memory: see OpenLog and LogTail for logs of any
// size.
func (c *Cache) ReadLog(e *Entry) ([]byte, error) {
	r, err := c.OpenLog(e)
	if err != nil || r == nil {
		return nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, c.wrap(fmt.Sprintf("read log of %q", e.Key), err)
	}
	return b, nil
}

// OpenLog opens the console output stored with e for reading; nil (and no
// error) when e has no log. The reader hashes what it reads and, at the
// end, returns an error instead of io.EOF when the bytes were not the
// log's: a caller that streams the log learns of corruption at the end.
func (c *Cache) OpenLog(e *Entry) (io.ReadCloser, error) {
	if e.LogDigest == "" {
		return nil, nil
	}
	op := fmt.Sprintf("read log of %q", e.Key)
	p := c.BlobPath(e.LogDigest)
	if p == "" {
		return nil, c.wrap(op, fmt.Errorf("invalid digest %q", e.LogDigest))
	}
	f, _, err := openRegular(p)
	if err != nil {
		return nil, c.wrap(op, err)
	}
	return &checkedLog{c: c, f: f, h: newHasher(), digest: e.LogDigest, op: op}, nil
}

// checkedLog is a log blob that checks its digest when it reaches the end.
type checkedLog struct {
	c      *Cache
	f      *os.File
	h      hasher
	digest string
	op     string
}

func (l *checkedLog) Read(p []byte) (int, error) {
	n, err := l.f.Read(p)
	l.h.Write(p[:n])
	l.c.hashed.Add(int64(n))
	if err == io.EOF {
		if d := l.h.hex(); d != l.digest {
			return n, l.c.wrap(l.op, fmt.Errorf("blob %s is corrupt (hashes to %s)", l.digest, d))
		}
	}
	return n, err
}

func (l *checkedLog) Close() error { return l.f.Close() }

// LogTail returns at most the last lines lines of e's log, and at most
// maxBytes of it, reading only the end of the blob (unhashed: it is for
// display), and how many bytes of the log came before the tail.
func (c *Cache) LogTail(e *Entry, lines int, maxBytes int64) (tail []byte, before int64, err error) {
	if e.LogDigest == "" {
		return nil, 0, nil
	}
	op := fmt.Sprintf("read log of %q", e.Key)
	p := c.BlobPath(e.LogDigest)
	if p == "" {
		return nil, 0, c.wrap(op, fmt.Errorf("invalid digest %q", e.LogDigest))
	}
	f, _, err := openRegular(p)
	if err != nil {
		return nil, 0, c.wrap(op, err)
	}
	defer f.Close()
	tail, before, err = FileTail(f, lines, maxBytes)
	return tail, before, c.wrap(op, err)
}

// FileTail returns at most the last lines lines of f, and at most maxBytes
// of them (a final newline does not count as a line), and the size of what
// comes before. It reads only the end of f.
func FileTail(f *os.File, lines int, maxBytes int64) ([]byte, int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	size := fi.Size()
	start := max(size-maxBytes, 0)
	buf := make([]byte, size-start)
	if _, err := f.ReadAt(buf, start); err != nil && err != io.EOF {
		return nil, 0, err
	}
	// Count newlines back from the end, ignoring a final one.
	end := len(buf)
	if end > 0 && buf[end-1] == '\n' {
		end--
	}
	cut, seen := 0, 0
	for i := end - 1; i >= 0; i-- {
		if buf[i] == '\n' {
			seen++
			if seen == lines {
				cut = i + 1
				break
			}
		}
	}
	if seen < lines && start > 0 {
		// The byte limit cut a line: drop its partial start.
		if i := bytes.IndexByte(buf, '\n'); i >= 0 && i+1 < len(buf) {
			cut = i + 1
		}
	}
	return buf[cut:], start + int64(cut), nil
}
