package cache

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TempDir creates a scratch folder under <dir>/tmp, on the cache's file
// system so that Commit can link its files into the blob store. Its name
// starts with this process's pid and start time ("p<pid>-<start>-"), then
// pattern as in os.MkdirTemp; Open and GC remove the scratch folders of
// processes that are gone.
func (c *Cache) TempDir(pattern string) (string, error) {
	if strings.ContainsAny(pattern, `/\`) {
		return "", c.wrap("create scratch folder", fmt.Errorf("pattern %q contains a path separator", pattern))
	}
	d, err := os.MkdirTemp(filepath.Join(c.dir, "tmp"), fmt.Sprintf("p%d-%d-%s", c.self.pid, c.self.start, pattern))
	if err != nil {
		return "", c.wrap("create scratch folder", err)
	}
	return d, nil
}

// tmpOwner parses the pid and start time out of a scratch folder name.
func tmpOwner(name string) (pid int, start int64, ok bool) {
	rest, ok := strings.CutPrefix(name, "p")
	if !ok {
		return 0, 0, false
	}
	p, rest, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	s, _, ok := strings.Cut(rest, "-")
	if !ok {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(p)
	start, err2 := strconv.ParseInt(s, 10, 64)
	return pid, start, err1 == nil && err2 == nil
}

// removeStaleTmp removes the scratch folders of processes that are gone and
// returns how many it removed and their size.
func (c *Cache) removeStaleTmp() (removed int, bytes int64, err error) {
	root := filepath.Join(c.dir, "tmp")
	ents, err := os.ReadDir(root)
	if err != nil {
		return 0, 0, err
	}
	for _, e := range ents {
		pid, start, ok := tmpOwner(e.Name())
		if !ok || !c.gone(c.self.host, pid, start) {
			continue
		}
		p := filepath.Join(root, e.Name())
		n := treeSize(p)
		if err := removeTree(p); err != nil {
			return removed, bytes, err
		}
		removed++
		bytes += n
	}
	return removed, bytes, nil
}

func treeSize(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// removeTree removes root and everything under it, making folders writable
// first when a node left read-only ones behind.
func removeTree(root string) error {
	if err := os.RemoveAll(root); err == nil {
		return nil
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(root)
}
