package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// racyWindow: a file modified this shortly before it was hashed may be
// modified again within the same timestamp tick without its stat changing,
// so its memo is not trusted (git's "racily clean" rule).
const racyWindow = 2 * time.Second

// fileStat is what the FileDigest memo is keyed by, beside the path.
type fileStat struct {
	size, mtime, ctime int64
	inode              uint64
}

func statForMemo(path string) (fileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{}, err
	}
	if !fi.Mode().IsRegular() {
		return fileStat{}, fmt.Errorf("not a regular file (mode %v)", fi.Mode().Type())
	}
	st := fileStat{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = sys.Ino
		st.ctime = sys.Ctim.Sec*1e9 + sys.Ctim.Nsec
	}
	return st, nil
}

// FileDigest returns the sha256 hex of the content of the file at path
// (symlinks followed). The result is memoized in the index by (absolute
// path, size, mtime, inode, ctime), so a file that did not change is not
// read again; a file modified within two seconds before it was hashed is
// re-hashed until it is older.
func (c *Cache) FileDigest(path string) (string, error) {
	return c.FileDigestContext(context.Background(), path)
}

// FileDigestContext is FileDigest that stops hashing, within a chunk, when
// ctx is cancelled (the error then wraps ctx.Err()). Anything but a regular
// file is refused before it is opened.
//
// Only a failure of the index is a cache error (*Error, exit 3). A file
// that is missing, unreadable or not regular is the caller's problem, not
// the cache's: its error names the file and is returned unwrapped, so a
// node whose program or dataset is absent fails as that node.
func (c *Cache) FileDigestContext(ctx context.Context, path string) (string, error) {
	d, err := c.fileDigest(ctx, path)
	var fe *fileError
	if errors.As(err, &fe) {
		return d, fmt.Errorf("digest of %q: %w", path, fe.err)
	}
	return d, c.wrap(fmt.Sprintf("digest of %q", path), err)
}

// fileError marks an error of the hashed file itself (stat, open, read),
// as opposed to one of the index.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// memoEntry is a digest this process trusts for a path while its stat is st.
type memoEntry struct {
	st     fileStat
	digest string
}

func (c *Cache) fileDigest(ctx context.Context, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	st, err := statForMemo(abs)
	if err != nil {
		return "", &fileError{err}
	}
	c.memoMu.Lock()
	m, ok := c.memo[abs]
	c.memoMu.Unlock()
	if ok && m.st == st {
		return m.digest, nil
	}
	var row fileStat
	var digest string
	var hashed int64
	err = c.stmts.fileDigest.QueryRowContext(ctx, abs).Scan(&row.size, &row.mtime, &row.inode, &row.ctime, &digest, &hashed)
	switch {
	case err == nil && row == st && st.mtime < hashed-int64(racyWindow):
		c.remember(abs, st, digest)
		return digest, nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return "", err
	}
	// Wall clock on purpose: it is compared with file system timestamps.
	hashedAt := time.Now().UnixNano()
	digest, _, err = c.hashFile(ctx, abs)
	if err != nil {
		if ctx.Err() != nil {
			return "", err
		}
		return "", &fileError{err}
	}
	if after, err := statForMemo(abs); err != nil || after != st {
		return digest, nil // changed while hashed: do not memoize
	}
	_, err = c.db.ExecContext(ctx, `INSERT OR REPLACE INTO file_digests
		(path, size, mtime_ns, inode, ctime_ns, digest, hashed_ns) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		abs, st.size, st.mtime, int64(st.inode), st.ctime, digest, hashedAt)
	if err != nil {
		return "", fmt.Errorf("memoize: %w", err)
	}
	if st.mtime < hashedAt-int64(racyWindow) {
		c.remember(abs, st, digest)
	}
	return digest, nil
}

// remember keeps a trusted digest in the process memo. Only digests whose
// file is older than the racy window are kept, as for the index's memo.
func (c *Cache) remember(abs string, st fileStat, digest string) {
	c.memoMu.Lock()
	c.memo[abs] = memoEntry{st: st, digest: digest}
	c.memoMu.Unlock()
}
