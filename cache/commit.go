package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode"
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
	// LogFile, when set, names a file holding the console output, stored
	// as the log instead of Log (the file becomes the blob: it should be
	// in a scratch folder of this cache and closed). An empty file stores
	// no log.
	LogFile string
	// InputsChecked says that every input the node read was hashed while
	// it was materialized and matched its digest, so the entry was computed
	// from the bytes its key names. Evicting a corrupt entry also evicts the
	// entries computed from its output without this guarantee.
	InputsChecked bool
}

// Entry is a committed result.
type Entry struct {
	Key       string
	Digest    string // Manifest.Digest()
	Manifest  Manifest
	Record    Record // Log is not loaded: see LogDigest and ReadLog
	LogDigest string // "" when the log was empty
	LogSize   int64  // bytes of the log
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
// files are hard-linked into the blob store, and copied when that fails or
// when a file has other names (a link count above 1: adopting it would
// chmod the other names' file and let writes through them reach the store).
// Symlinks, devices, pipes and sockets, and names that contain a control
// character or are not valid UTF-8, are refused with an error wrapping
// ErrBadOutput and naming the file, and then nothing is stored. Empty
// folders are not recorded. Every
// blob is durable before the entry, its manifest, blobs and metrics are
// inserted in one transaction; an entry already stored under key is
// replaced. On error, dir is left in place (its files may have been made
// read-only) and nothing is registered.
func (c *Cache) Commit(ctx context.Context, key string, dir string, rec Record) (*Entry, error) {
	e, err := c.commit(ctx, key, dir, rec)
	return e, c.wrap(fmt.Sprintf("commit %q", key), err)
}

func (c *Cache) commit(ctx context.Context, key, dir string, rec Record) (*Entry, error) {
	st, err := c.stage(ctx, key, dir, rec)
	if st != nil {
		defer removeTree(st.staging)
	}
	if err != nil {
		return nil, err
	}
	for d := range st.dirs {
		if err := syncDir(d); err != nil {
			return nil, fmt.Errorf("sync %q: %w", d, err)
		}
	}
	err = c.writeTx(ctx, func(tx *sql.Tx) error {
		return c.register(ctx, &regTx{tx: tx}, st)
	})
	if err != nil {
		return nil, err
	}
	c.removeCommitted(st)
	return st.entry, nil
}

// staged is an output folder whose files are hashed, read-only and linked
// into the blob store, ready to be registered.
type staged struct {
	key     string
	dir     string
	rec     Record
	remote  bool               // imported from a remote tier (Importer)
	staging string             // scratch folder, removed by the caller
	dirs    map[string]bool    // folders whose links must be synced
	logSrc  *source            // nil without a log
	byDig   map[string]*source // one source per distinct digest
	digests []string           // sorted
	entry   *Entry
}

// stage hashes, makes read-only, fsyncs and places (links) dir's files
// into the blob store for the entry key. Nothing is registered. On error,
// the returned staged (when not nil) holds the scratch folder to remove.
func (c *Cache) stage(ctx context.Context, key, dir string, rec Record) (*staged, error) {
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
	st := &staged{key: key, dir: dir, rec: rec, staging: staging, dirs: map[string]bool{}, byDig: map[string]*source{}}

	// Hash, make read-only and fsync (or list) every file.
	for i := range srcs {
		if err := c.prepare(ctx, &srcs[i], staging, i); err != nil {
			return st, fmt.Errorf("output %q: %w", srcs[i].file.Path, err)
		}
	}
	var logSrc *source
	switch {
	case rec.LogFile != "":
		fi, err := os.Stat(rec.LogFile)
		if err != nil {
			return st, fmt.Errorf("store log: %w", err)
		}
		if fi.Size() > 0 {
			logSrc = &source{path: rec.LogFile, file: File{Path: "log"}}
		}
	case len(rec.Log) > 0:
		p := filepath.Join(staging, "log")
		if err := writeSynced(p, rec.Log); err != nil {
			return st, fmt.Errorf("store log: %w", err)
		}
		logSrc = &source{path: p, file: File{Path: "log"}}
	}
	if logSrc != nil {
		if err := c.prepare(ctx, logSrc, staging, -1); err != nil {
			return st, fmt.Errorf("store log: %w", err)
		}
	}
	st.logSrc = logSrc

	m := make(Manifest, len(srcs))
	for i, s := range srcs {
		m[i] = s.file
	}
	slices.SortFunc(m, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	// One source per distinct digest, placed in the blob store.
	all := make([]*source, 0, len(srcs)+1)
	for i := range srcs {
		all = append(all, &srcs[i])
	}
	if logSrc != nil {
		all = append(all, logSrc)
	}
	for _, s := range all {
		if _, ok := st.byDig[s.file.Digest]; !ok {
			st.byDig[s.file.Digest] = s
			st.digests = append(st.digests, s.file.Digest)
		}
	}
	slices.Sort(st.digests)
	for _, d := range st.digests {
		if err := c.placeNew(st.byDig[d], staging, st.dirs, false); err != nil {
			return st, fmt.Errorf("store blob %s: %w", d, err)
		}
	}

	e := &Entry{Key: key, Digest: m.Digest(), Manifest: m, Record: rec, Created: c.now()}
	e.Record.Log, e.Record.LogFile = nil, ""
	if logSrc != nil {
		e.LogDigest, e.LogSize = logSrc.file.Digest, logSrc.file.Size
	}
	st.entry = e
	return st, nil
}

// register inserts a staged entry, its blobs, manifest and metrics in tx;
// its blobs must be durable.
func (c *Cache) register(ctx context.Context, tx *regTx, st *staged) error {
	e, rec, key := st.entry, st.rec, st.key
	now := e.Created.UnixNano()
	for _, d := range st.digests {
		if err := c.registerBlob(ctx, tx, st.byDig[d], st.staging, now); err != nil {
			return fmt.Errorf("register blob %s: %w", d, err)
		}
	}
	if err := tx.exec(ctx, `DELETE FROM entries WHERE key = ?`, key); err != nil {
		return err
	}
	var logDigest any
	if e.LogDigest != "" {
		logDigest = e.LogDigest
	}
	if err := tx.exec(ctx, `INSERT INTO entries
		(key, digest, kind, version, params, inputs, extra, duration_ns, log_digest, created_ns, hits, last_use_ns, inputs_checked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
		key, e.Digest, rec.Kind, rec.Version, rec.Params, rec.Inputs, rec.Extra,
		int64(rec.Duration), logDigest, now, now, rec.InputsChecked); err != nil {
		return err
	}
	for _, f := range e.Manifest {
		if err := tx.exec(ctx, `INSERT INTO manifests (key, path, digest, size, exec) VALUES (?, ?, ?, ?, ?)`,
			key, f.Path, f.Digest, f.Size, f.Exec); err != nil {
			return err
		}
	}
	for name, v := range rec.Metrics {
		var val any = v
		if math.IsNaN(v) {
			val = nil
		}
		if err := tx.exec(ctx, `INSERT INTO metrics (key, name, value) VALUES (?, ?, ?)`, key, name, val); err != nil {
			return err
		}
	}
	if st.remote {
		var bytes int64
		for _, d := range st.digests {
			bytes += st.byDig[d].file.Size
		}
		if err := tx.exec(ctx, `UPDATE counters SET value = value + CASE name WHEN 'remote_hits' THEN 1 ELSE ? END
			WHERE name IN ('remote_hits', 'remote_bytes')`, bytes); err != nil {
			return err
		}
	}
	return nil
}

// regTx is a transaction that registers entries (Commit, an Importer's
// Register), with each statement register runs for every blob, manifest
// line and metric prepared once for the transaction instead of once per
// call: an import registers hundreds of blobs in one.
type regTx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt // closed with tx
}

// exec runs query with args, preparing it on the first call.
func (r *regTx) exec(ctx context.Context, query string, args ...any) error {
	st, ok := r.stmts[query]
	if !ok {
		var err error
		if st, err = r.tx.PrepareContext(ctx, query); err != nil {
			return err
		}
		if r.stmts == nil {
			r.stmts = map[string]*sql.Stmt{}
		}
		r.stmts[query] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

// removeCommitted removes a registered entry's output folder.
func (c *Cache) removeCommitted(st *staged) {
	if err := removeTree(st.dir); err != nil {
		c.log.Warn("cache: remove committed output folder", "dir", st.dir, "err", err)
	}
}

// scanOutput lists the regular files under dir, refusing anything that
// cannot be stored faithfully.
func scanOutput(dir string) ([]source, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, badOutputf("output folder %q is not a folder", dir)
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
		if err := checkName(name); err != nil {
			return err
		}
		t := d.Type()
		switch {
		case t&fs.ModeSymlink != 0:
			return badOutputf("output %q is a symbolic link; write a copy of the file instead", name)
		case t.IsDir():
			return nil
		case !t.IsRegular():
			return badOutputf("output %q is not a regular file (mode %v)", name, t)
		}
		srcs = append(srcs, source{path: p, file: File{Path: name}})
		return nil
	})
	return srcs, err
}

// checkName refuses an output path that cannot be stored and listed
// faithfully: one that is not valid UTF-8, is absolute, has a "." or ".."
// component, or holds a control character (a newline would break every
// line-oriented listing of outputs). Nothing else is refused: "a..b.tar" is
// a fine name.
func checkName(name string) error {
	switch {
	case !utf8.ValidString(name):
		return badOutputf("output %q: name is not valid UTF-8", name)
	case path.IsAbs(name):
		return badOutputf("output %q: name is absolute", name)
	}
	for _, part := range strings.Split(name, "/") {
		if part == "." || part == ".." || part == "" {
			return badOutputf("output %q: name has a %q component", name, part)
		}
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return badOutputf("output %q: name contains the control character %U", name, r)
		}
	}
	return nil
}

// prepare hashes s, records its size and execute bit, makes it read-only and
// fsyncs it: the file itself becomes the blob. A file with other names
// (link count above 1) is copied into staging instead, hashed while copied,
// and the copy becomes the blob; n numbers the copy.
func (c *Cache) prepare(ctx context.Context, s *source, staging string, n int) error {
	f, fi, err := openRegular(s.path)
	if errors.Is(err, errNotRegular) {
		return badOutputf("%v", err)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	s.file.Exec = fi.Mode().Perm()&0o111 != 0
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok && sys.Nlink > 1 {
		p := filepath.Join(staging, fmt.Sprintf("copy-%d", n))
		d, size, err := c.copyHashed(ctx, f, p, 0o444, true)
		if err != nil {
			return err
		}
		if size != fi.Size() {
			return badOutputf("file changed while being stored (size %d, read %d)", fi.Size(), size)
		}
		st, err := statFile(p)
		if err != nil {
			return err
		}
		s.path, s.inode = p, st.inode
		s.file.Digest, s.file.Size = d, size
		return nil
	}
	d, size, err := c.hashReader(ctx, f)
	if err != nil {
		return err
	}
	if size != fi.Size() {
		return badOutputf("file changed while being stored (size %d, read %d)", fi.Size(), size)
	}
	s.file.Digest, s.file.Size = d, size
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.inode = sys.Ino
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	return f.Sync()
}

// copyHashed copies r into a new file dst with mode perm, hashing what it
// copies (counted in HashedBytes), and fsyncs dst when sync is set. It
// removes dst on error.
func (c *Cache) copyHashed(ctx context.Context, r io.Reader, dst string, perm os.FileMode, sync bool) (string, int64, error) {
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return "", 0, err
	}
	h := newHasher()
	n, err := copyCtx(ctx, io.MultiWriter(h, out), r)
	c.hashed.Add(n)
	if err == nil && sync {
		err = out.Sync()
	}
	if err == nil {
		err = out.Chmod(perm) // the umask may have cleared bits
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return "", n, err
	}
	return h.hex(), n, nil
}

// placeNew links s into the blob store when no file is there yet, adding the
// folders it touched to synced. An existing file is judged in registerBlob.
// A source on another file system is first copied into staging. With move,
// s is renamed into place instead (never over an existing file) and then
// names the blob.
func (c *Cache) placeNew(s *source, staging string, synced map[string]bool, move bool) error {
	final := c.BlobPath(s.file.Digest)
	dir := filepath.Dir(final)
	fi, err := os.Lstat(dir)
	if err == nil && !fi.IsDir() {
		// A shard that is not a folder holds no blob: move it aside.
		if _, err := c.quarantine(dir); err != nil && !isMissing(err) {
			return err
		}
		err = fs.ErrNotExist
	}
	if isMissing(err) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		synced[filepath.Dir(dir)] = true
	} else if err != nil {
		return err
	}
	if move {
		moved, err := moveNoReplace(s.path, final)
		switch {
		case moved:
			s.path = final
			synced[dir] = true
			return nil
		case errors.Is(err, fs.ErrExist):
			return nil
		}
		// Not supported here: link as a commit does.
	}
	err = os.Link(s.path, final)
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
func (c *Cache) registerBlob(ctx context.Context, tx *regTx, s *source, staging string, now int64) error {
	final := c.BlobPath(s.file.Digest)
	st, err := statFile(final)
	if errors.Is(err, errNotRegular) {
		// A folder or a FIFO where the blob belongs: move it aside and
		// put ours in place.
		if _, qerr := c.quarantine(final); qerr != nil {
			return qerr
		}
		err = fs.ErrNotExist
	}
	trusted := false
	switch {
	case err == nil && st.inode == s.inode && st.size == s.file.Size:
		trusted = true // our own file, hashed in prepare
	case err == nil:
		var row blobStat
		qerr := tx.tx.QueryRowContext(ctx, `SELECT size, mtime_ns, inode FROM blobs WHERE digest = ?`, s.file.Digest).
			Scan(&row.size, &row.mtime, &row.inode)
		switch {
		case qerr == nil:
			trusted = row == st
		case !errors.Is(qerr, sql.ErrNoRows):
			return qerr
		}
	case !isMissing(err):
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
	err = tx.exec(ctx, `INSERT INTO blobs (digest, size, mtime_ns, inode, last_use_ns) VALUES (?, ?, ?, ?, ?)
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
