package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Record is what the engine wants remembered about an entry. The cache
// stores it as given and does not interpret it.
type Record struct {
	Kind     string
	Version  int
	Params   string // canonical JSON
	Inputs   string // canonical JSON of slot -> digest
	Extra    string // JSON of fingerprints etc.
	Duration time.Duration
	Metrics  map[string]float64 // also queryable through Metrics; NaN is kept
	Log      []byte             // console output, stored as a blob outside the manifest
}

// Entry is a committed result.
type Entry struct {
	Key       string
	Digest    string // Manifest.Digest()
	Manifest  Manifest
	Record    Record // Log is not loaded: see LogDigest and ReadLog
	LogDigest string // "" when the log was empty
	Created   time.Time
}

// source is one file to be stored: where it is now and what it holds.
type source struct {
	path  string // absolute
	file  File
	inode uint64
}

// Commit stores the finished output folder dir as the entry for key and
// removes dir. dir should be on the cache's file system (see TempDir): its
// files are hard-linked into the blob store, and copied only when that
// fails. Symlinks, devices, pipes and sockets, and names that contain "..",
// are not valid UTF-8 or are absolute, are refused with an error naming the
// file, and then nothing is stored. Empty folders are not recorded. Every
// blob is durable before the entry, its manifest, blobs and metrics are
// inserted in one transaction; an entry already stored under key is
// replaced. On error, dir is left in place (its files may have been made
// read-only) and nothing is registered.
func (c *Cache) Commit(ctx context.Context, key string, dir string, rec Record) (*Entry, error) {
	e, err := c.commit(ctx, key, dir, rec)
	return e, c.wrap(fmt.Sprintf("commit %q", key), err)
}

func (c *Cache) commit(ctx context.Context, key, dir string, rec Record) (*Entry, error) {
	if key == "" {
		return nil, errors.New("empty key")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	srcs, err := scanOutput(dir)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	staging, err := c.TempDir("commit-")
	if err != nil {
		return nil, err
	}
	defer removeTree(staging)

	// Hash, make read-only and fsync every file.
	for i := range srcs {
		if err := c.prepare(&srcs[i]); err != nil {
			return nil, fmt.Errorf("output %q: %w", srcs[i].file.Path, err)
		}
	}
	var logSrc *source
	if len(rec.Log) > 0 {
		p := filepath.Join(staging, "log")
		if err := writeSynced(p, rec.Log); err != nil {
			return nil, fmt.Errorf("store log: %w", err)
		}
		logSrc = &source{path: p, file: File{Path: "log"}}
		if err := c.prepare(logSrc); err != nil {
			return nil, fmt.Errorf("store log: %w", err)
		}
	}

	// One source per distinct digest, placed in the blob store.
	byDigest := map[string]*source{}
	all := make([]*source, 0, len(srcs)+1)
	for i := range srcs {
		all = append(all, &srcs[i])
	}
	if logSrc != nil {
		all = append(all, logSrc)
	}
	var digests []string
	for _, s := range all {
		if _, ok := byDigest[s.file.Digest]; !ok {
			byDigest[s.file.Digest] = s
			digests = append(digests, s.file.Digest)
		}
	}
	slices.Sort(digests)
	synced := map[string]bool{}
	for _, d := range digests {
		if err := c.placeNew(byDigest[d], staging, synced); err != nil {
			return nil, fmt.Errorf("store blob %s: %w", d, err)
		}
	}
	for d := range synced {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("sync %q: %w", d, err)
		}
	}

	m := make(Manifest, len(srcs))
	for i, s := range srcs {
		m[i] = s.file
	}
	slices.SortFunc(m, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	e := &Entry{Key: key, Digest: m.Digest(), Manifest: m, Record: rec, Created: c.now()}
	e.Record.Log = nil
	if logSrc != nil {
		e.LogDigest = logSrc.file.Digest
	}
	now := e.Created.UnixNano()
	err = c.writeTx(ctx, func(tx *sql.Tx) error {
		for _, d := range digests {
			if err := c.registerBlob(ctx, tx, byDigest[d], staging, now); err != nil {
				return fmt.Errorf("register blob %s: %w", d, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM entries WHERE key = ?`, key); err != nil {
			return err
		}
		var logDigest any
		if e.LogDigest != "" {
			logDigest = e.LogDigest
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO entries
			(key, digest, kind, version, params, inputs, extra, duration_ns, log_digest, created_ns, hits, last_use_ns)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
			key, e.Digest, rec.Kind, rec.Version, rec.Params, rec.Inputs, rec.Extra,
			int64(rec.Duration), logDigest, now, now); err != nil {
			return err
		}
		for _, f := range m {
			if _, err := tx.ExecContext(ctx, `INSERT INTO manifests (key, path, digest, size, exec) VALUES (?, ?, ?, ?, ?)`,
				key, f.Path, f.Digest, f.Size, f.Exec); err != nil {
				return err
			}
		}
		for name, v := range rec.Metrics {
			var val any = v
			if math.IsNaN(v) {
				val = nil
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO metrics (key, name, value) VALUES (?, ?, ?)`, key, name, val); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := removeTree(dir); err != nil {
		c.log.Warn("cache: remove committed output folder", "dir", dir, "err", err)
	}
	return e, nil
}

// scanOutput lists the regular files under dir, refusing anything that
// cannot be stored faithfully.
func scanOutput(dir string) ([]source, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("output folder %q is not a folder", dir)
	}
	var srcs []source
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case !utf8.ValidString(rel):
			return fmt.Errorf("output %q: name is not valid UTF-8", name)
		case filepath.IsAbs(rel):
			return fmt.Errorf("output %q: name is absolute", name)
		case strings.Contains(d.Name(), ".."):
			return fmt.Errorf("output %q: name contains \"..\"", name)
		}
		t := d.Type()
		switch {
		case t&fs.ModeSymlink != 0:
			return fmt.Errorf("output %q is a symbolic link; write a copy of the file instead", name)
		case t.IsDir():
			return nil
		case !t.IsRegular():
			return fmt.Errorf("output %q is not a regular file (mode %v)", name, t)
		}
		srcs = append(srcs, source{path: p, file: File{Path: name}})
		return nil
	})
	return srcs, err
}

// prepare hashes s, records its size and execute bit, makes it read-only and
// fsyncs it: the file itself becomes the blob.
func (c *Cache) prepare(s *source) error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	d, n, err := c.hashReader(f)
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return fmt.Errorf("file changed while being stored (size %d, read %d)", fi.Size(), n)
	}
	s.file.Digest, s.file.Size = d, n
	s.file.Exec = fi.Mode().Perm()&0o111 != 0
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = sys.Ino
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	return f.Sync()
}

// placeNew links s into the blob store when no file is there yet, adding the
// folders it touched to synced. An existing file is judged in registerBlob.
// A source on another file system is first copied into staging.
func (c *Cache) placeNew(s *source, staging string, synced map[string]bool) error {
	final := c.BlobPath(s.file.Digest)
	dir := filepath.Dir(final)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		synced[filepath.Dir(dir)] = true
	}
	err := os.Link(s.path, final)
	if errors.Is(err, syscall.EXDEV) || errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EMLINK) {
		if err := c.stageCopy(s, staging); err != nil {
			return err
		}
		err = os.Link(s.path, final)
	}
	switch {
	case err == nil:
		synced[dir] = true
		return nil
	case errors.Is(err, fs.ErrExist):
		return nil
	}
	return err
}

// stageCopy copies s into staging (on the cache's file system) and points s
// at the copy.
func (c *Cache) stageCopy(s *source, staging string) error {
	p := filepath.Join(staging, "blob-"+s.file.Digest)
	if err := copyFile(s.path, p, 0o444); err != nil {
		return err
	}
	st, err := statFile(p)
	if err != nil {
		return err
	}
	s.path, s.inode = p, st.inode
	return nil
}

// registerBlob makes sure, inside the commit transaction, that the blob file
// of s exists and holds the right content, replacing a file that is missing
// or that no row vouches for, and records its stat.
func (c *Cache) registerBlob(ctx context.Context, tx *sql.Tx, s *source, staging string, now int64) error {
	final := c.BlobPath(s.file.Digest)
	st, err := statFile(final)
	trusted := false
	switch {
	case err == nil && st.inode == s.inode && st.size == s.file.Size:
		trusted = true // our own file, hashed in prepare
	case err == nil:
		var row blobStat
		qerr := tx.QueryRowContext(ctx, `SELECT size, mtime_ns, inode FROM blobs WHERE digest = ?`, s.file.Digest).
			Scan(&row.size, &row.mtime, &row.inode)
		switch {
		case qerr == nil:
			trusted = row == st
		case !errors.Is(qerr, sql.ErrNoRows):
			return qerr
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if !trusted {
		// Missing (removed since placeNew) or unvouched for: put ours in place.
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
		tmp := filepath.Join(staging, "link-"+s.file.Digest)
		err := os.Link(s.path, tmp)
		if err != nil {
			if err := copyFile(s.path, tmp, 0o444); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(final)); err != nil {
			return err
		}
		if st, err = statFile(final); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO blobs (digest, size, mtime_ns, inode, last_use_ns) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
			inode = excluded.inode, last_use_ns = excluded.last_use_ns`,
		s.file.Digest, st.size, st.mtime, int64(st.inode), now)
	return err
}

// writeSynced writes b to a new file at path, read-only, and fsyncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
