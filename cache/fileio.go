package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// errNotRegular is wrapped by the errors of openRegular and statFile for a
// path that is a folder, a FIFO, a socket or a device.
var errNotRegular = errors.New("not a regular file")

// openRegular opens path for reading and refuses anything but a regular
// file before reading a byte. The open itself does not block: opening a
// FIFO for reading would wait for a writer forever (O_NONBLOCK), and the
// flag is cleared again once the file is known to be regular.
func openRegular(path string) (*os.File, fs.FileInfo, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (mode %v)", errNotRegular, fi.Mode().Type())}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// hashChunk is how much is read between two looks at the context: a
// cancelled hash of a 3 GiB file stops within one chunk, not at the end.
const hashChunk = 1 << 20

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyCtx copies r to w like io.Copy, checking ctx before every read, and
// returns the bytes copied.
func copyCtx(ctx context.Context, w io.Writer, r io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, rerr := r.Read(buf[:min(len(buf), hashChunk)])
		if m > 0 {
			if _, err := w.Write(buf[:m]); err != nil {
				return n, err
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}

// quarantine moves something that is not a blob file (a folder, a FIFO, a
// shard that is a file) out of objects/ into <dir>/quarantine/, where
// nothing reads it and the user may look at it, and returns where it went.
func (c *Cache) quarantine(path string) (string, error) {
	q := filepath.Join(c.dir, "quarantine")
	if err := os.MkdirAll(q, 0o755); err != nil {
		return "", err
	}
	rel, err := filepath.Rel(c.dir, path)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(q, fmt.Sprintf("%s.%d", strings.ReplaceAll(filepath.ToSlash(rel), "/", "_"), c.now().UnixNano()))
	if err := os.Rename(path, dst); err != nil {
		return "", err
	}
	c.log.Warn("cache: moved something that is not a blob file out of the blob store", "from", path, "to", dst)
	return dst, nil
}

// isMissing reports whether err means that a blob file is not there: absent,
// or its shard folder is a file (ENOTDIR).
func isMissing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}
