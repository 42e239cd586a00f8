package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

type hasher struct{ hash.Hash }

func newHasher() hasher { return hasher{sha256.New()} }

func (h hasher) hex() string { return hex.EncodeToString(h.Sum(nil)) }

// validDigest reports whether s is a lowercase sha256 hex string.
func validDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return true
}

// BlobPath returns where the blob with the given sha256 hex digest lives:
// <dir>/objects/ab/cdef…. It returns "" for a string that is not a digest.
func (c *Cache) BlobPath(digest string) string {
	if !validDigest(digest) {
		return ""
	}
	return filepath.Join(c.dir, "objects", digest[:2], digest[2:])
}

// blobStat is what is recorded of a blob file so that an unchanged file is
// trusted without hashing. The ctime is left out on purpose: hard-linking a
// blob (Materialize) changes it.
type blobStat struct {
	size  int64
	mtime int64 // ns
	inode uint64
}

// statFile stats a blob file (following no symlink: the store holds none)
// and reports an errNotRegular error for anything but a regular file.
func statFile(path string) (blobStat, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return blobStat{}, err
	}
	if !fi.Mode().IsRegular() {
		return blobStat{}, &fs.PathError{Op: "stat", Path: path, Err: fmt.Errorf("%w (mode %v)", errNotRegular, fi.Mode().Type())}
	}
	st := blobStat{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		st.inode = sys.Ino
	}
	return st, nil
}

// syncDir fsyncs a folder so that a rename or link in it is durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyFile copies the regular file src to a new file dst with mode perm
// and fsyncs it.
func copyFile(src, dst string, perm os.FileMode) error {
	in, _, err := openRegular(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

// inodeOf returns the inode number of fi (0 when unknown).
func inodeOf(fi fs.FileInfo) uint64 {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return sys.Ino
	}
	return 0
}
