package cache

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncBatch makes files and the links in dirs durable with one syncfs(2)
// of the file system holding root: one journal commit for the whole batch
// instead of one per file.
func syncBatch(root string, files []string, dirs map[string]bool) error {
	f, err := os.Open(root)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

// syncEarly is syncBatch of everything written so far, for a flusher:
// it only hastens what the sync pass makes durable, so its error is left
// to that pass.
func syncEarly(root string) { syncBatch(root, nil, nil) }

// moveNoReplace renames src to dst unless dst exists (renameat2 with
// RENAME_NOREPLACE): moved, or an error wrapping fs.ErrExist when dst
// exists, or another error when the file system cannot do it.
func moveNoReplace(src, dst string) (bool, error) {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if err != nil {
		return false, &os.LinkError{Op: "rename", Old: src, New: dst, Err: err}
	}
	return true, nil
}

// startWriteback asks the kernel to start writing n bytes of the file fd
// from off to disk, without waiting for them (sync_file_range(2) with
// SYNC_FILE_RANGE_WRITE; it may wait for room in the disk's queue). It
// makes nothing durable by itself: a later syncfs or fsync does, with less
// left to wait for. Errors are ignored for the same reason.
func startWriteback(fd int, off, n int64) {
	unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// dupFd returns a duplicate of f's descriptor for the flusher, or -1.
func dupFd(f *os.File) int {
	sc, err := f.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	sc.Control(func(s uintptr) {
		if d, err := unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0); err == nil {
			fd = d
		}
	})
	return fd
}

func closeFd(fd int) { unix.Close(fd) }
