package cache

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
)

// HashDir returns the manifest that Commit would record for the output
// folder dir, without storing anything: the same name rules, the same
// digests. It serves audits that recompute a node and compare digests.
func (c *Cache) HashDir(dir string) (Manifest, error) {
	srcs, err := scanOutput(dir)
	if err != nil {
		return nil, c.wrap("hash folder", err)
	}
	m := make(Manifest, len(srcs))
	for i, s := range srcs {
		d, n, err := c.hashFile(context.Background(), s.path)
		if err != nil {
			return nil, c.wrap("hash folder", fmt.Errorf("output %q: %w", s.file.Path, err))
		}
		fi, err := os.Stat(s.path)
		if err != nil {
			return nil, c.wrap("hash folder", err)
		}
		m[i] = File{Path: s.file.Path, Digest: d, Size: n, Exec: fi.Mode().Perm()&0o111 != 0}
	}
	slices.SortFunc(m, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return m, nil
}
