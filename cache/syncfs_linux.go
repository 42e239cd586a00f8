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
