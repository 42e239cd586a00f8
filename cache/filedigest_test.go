package cache

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestFileDigestMemo(t *testing.T) {
	c, _ := newCache(t)
	p := filepath.Join(t.TempDir(), "model.bin")
	old := time.Now().Add(-time.Hour)
	write := func(content string, mtime time.Time) {
		must(t, os.WriteFile(p, []byte(content), 0o644))
		must(t, os.Chtimes(p, mtime, mtime))
	}
	write("weights v1", old)

	steps := []struct {
		name   string
		edit   func()
		want   string
		hashed int64
	}{
		{"first call hashes", func() {}, sha("weights v1"), 10},
		{"second call is memoized", func() {}, sha("weights v1"), 0},
		{"same size, new mtime", func() { write("weights v2", old.Add(time.Second)) }, sha("weights v2"), 10},
		{"memoized again", func() {}, sha("weights v2"), 0},
		// Same size and mtime restored: the ctime still changes.
		{"same size and mtime", func() { write("weights v3", old.Add(time.Second)) }, sha("weights v3"), 10},
		{"replaced by a new file", func() {
			tmp := p + ".new"
			must(t, os.WriteFile(tmp, []byte("weights v4 longer"), 0o644))
			must(t, os.Chtimes(tmp, old, old))
			must(t, os.Rename(tmp, p))
		}, sha("weights v4 longer"), 17},
		// Just written: racily clean, so it is hashed until it is older.
		{"fresh file", func() { must(t, os.WriteFile(p, []byte("fresh"), 0o644)) }, sha("fresh"), 5},
		{"fresh file again", func() {}, sha("fresh"), 5},
	}
	for _, s := range steps {
		s.edit()
		before := c.HashedBytes()
		got, err := c.FileDigest(p)
		if err != nil {
			t.Fatalf("%s: FileDigest = %v", s.name, err)
		}
		if got != s.want || c.HashedBytes()-before != s.hashed {
			t.Errorf("%s: FileDigest = %s hashing %d bytes, want %s hashing %d", s.name, got, c.HashedBytes()-before, s.want, s.hashed)
		}
	}
	// The memo is in the index: another handle on the cache uses it.
	write("weights v5", old)
	_, err := c.FileDigest(p)
	must(t, err)
	c2 := openT(t, c.Dir(), Options{})
	if got, err := c2.FileDigest(p); err != nil || got != sha("weights v5") || c2.HashedBytes() != 0 {
		t.Errorf("other handle: FileDigest = %s, %v, hashed %d; want memoized", got, err, c2.HashedBytes())
	}
	if _, err := c.FileDigest(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Errorf("FileDigest(absent) succeeded")
	}
	if _, err := c.FileDigest(t.TempDir()); err == nil {
		t.Errorf("FileDigest(folder) succeeded")
	}
}
