//go:build !linux

package cache

import (
	"errors"
	"os"
)

// syncBatch makes files and the links in dirs durable: without syncfs(2),
// one fsync of each file, then of each folder.
func syncBatch(root string, files []string, dirs map[string]bool) error {
	for _, p := range files {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// moveNoReplace cannot rename without replacing here: the caller links.
func moveNoReplace(src, dst string) (bool, error) {
	return false, errors.ErrUnsupported
}

// startWriteback, syncEarly, dupFd and closeFd do nothing here: the sync
// pass writes everything.
func startWriteback(fd int, off, n int64) {}

func syncEarly(root string) {}

func dupFd(f *os.File) int { return -1 }

func closeFd(fd int) {}
