package cache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Validate reports the first reason m cannot be an entry's manifest: a path
// Commit would refuse (absolute, with an empty, "." or ".." component, a
// control character, not UTF-8), a path listed twice, a file and a folder of
// the same name, a digest that is not lowercase sha256 hex, or a negative
// size. A manifest read from elsewhere (a remote tier) is validated before
// anything of it is written, so a hostile one is refused, never laid out.
func (m Manifest) Validate() error {
	paths := make([]string, 0, len(m))
	for _, f := range m {
		if err := checkName(f.Path); err != nil {
			return err
		}
		if !validDigest(f.Digest) {
			return fmt.Errorf("file %q: digest %q is not sha256 hex", f.Path, f.Digest)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %q: negative size %d", f.Path, f.Size)
		}
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	for i := 1; i < len(paths); i++ {
		if paths[i] == paths[i-1] {
			return fmt.Errorf("file %q is listed twice", paths[i])
		}
		if strings.HasPrefix(paths[i], paths[i-1]+"/") {
			return fmt.Errorf("%q is both a file and a folder", paths[i-1])
		}
	}
	return nil
}

// Import registers dir as the entry for key, like Commit, but only if its
// files are exactly want (same paths, digests, sizes and execute bits):
// the files are hashed as Commit hashes them and compared before anything
// is registered, and the entry counts as one remote hit of its blobs' bytes
// in Stats. A mismatch is an error wrapping ErrBadOutput (naming the file
// and the digest its manifest line wants) and registers nothing; it is the
// only hashing an entry fetched from a remote tier gets, and how it becomes
// local.
func (c *Cache) Import(ctx context.Context, key, dir string, rec Record, want Manifest) (*Entry, error) {
	e, err := c.doImport(ctx, key, dir, rec, want)
	return e, c.wrap(fmt.Sprintf("import %q", key), err)
}

func (c *Cache) doImport(ctx context.Context, key, dir string, rec Record, want Manifest) (*Entry, error) {
	if err := want.Validate(); err != nil {
		return nil, badOutputf("invalid manifest: %v", err)
	}
	return c.commit(ctx, key, dir, rec, &imported{want: want})
}

// OpenBlob opens the blob with the given digest for reading. It does not
// hash it: a reader that must trust the bytes checks them itself (a remote
// push sends them under their digest, and every reader of the remote
// verifies them).
func (c *Cache) OpenBlob(digest string) (io.ReadCloser, int64, error) {
	p := c.BlobPath(digest)
	if p == "" {
		return nil, 0, c.wrap("open blob", fmt.Errorf("%q is not a digest", digest))
	}
	f, fi, err := openRegular(p)
	if err != nil {
		return nil, 0, c.wrap(fmt.Sprintf("open blob %s", digest), err)
	}
	return f, fi.Size(), nil
}

// ImportItem is one entry for ImportBatch: like Import's arguments.
type ImportItem struct {
	Key      string
	Dir      string
	Record   Record
	Manifest Manifest
}

// ImportResult is what ImportBatch did with one item: the entry, or the
// reason it was refused (an error wrapping ErrBadOutput when the files do
// not match the manifest).
type ImportResult struct {
	Entry *Entry
	Err   error
}

// ImportBatch imports items like Import does one at a time, but syncs once
// for the whole batch: every item's files are hashed, checked against its
// manifest, made read-only and linked into the blob store without an fsync
// each, then one pass makes them all durable (syncfs(2) of the cache's file
// system on Linux, else an fsync of each file and folder), and only then
// are the entries registered, in one transaction. An item refused (bad
// manifest, files that do not match it) is reported in its result and the
// others go on; an error of the batch (I/O, the index) registers nothing
// and is returned.
func (c *Cache) ImportBatch(ctx context.Context, items []ImportItem) ([]ImportResult, error) {
	res, err := c.importBatch(ctx, items)
	return res, c.wrap(fmt.Sprintf("import %d entries", len(items)), err)
}

func (c *Cache) importBatch(ctx context.Context, items []ImportItem) ([]ImportResult, error) {
	res := make([]ImportResult, len(items))
	var ok []*staged
	defer func() {
		for _, st := range ok {
			removeTree(st.staging)
		}
	}()
	// Stage the items in parallel (hashing is most of the work); each
	// touches only its own files, and two items placing the same blob
	// are settled by registerBlob.
	sts := make([]*staged, len(items))
	errs := make([]error, len(items))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(items)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) {
					return
				}
				it := items[i]
				if err := it.Manifest.Validate(); err != nil {
					errs[i] = badOutputf("invalid manifest: %v", err)
					continue
				}
				sts[i], errs[i] = c.stage(ctx, it.Key, it.Dir, it.Record, &imported{want: it.Manifest}, true)
			}
		}()
	}
	wg.Wait()
	var files []string
	dirs := map[string]bool{}
	var fatal error
	for i, st := range sts {
		err := errs[i]
		if err != nil {
			if st != nil {
				removeTree(st.staging)
			}
			if errors.Is(err, ErrBadOutput) {
				res[i].Err = c.wrap(fmt.Sprintf("import %q", items[i].Key), err)
			} else if fatal == nil {
				fatal = fmt.Errorf("import %q: %w", items[i].Key, err)
			}
			continue
		}
		ok = append(ok, st)
		files = append(files, st.files...)
		for d := range st.dirs {
			dirs[d] = true
		}
	}
	if fatal != nil {
		return nil, fatal
	}
	if len(ok) == 0 {
		return res, nil
	}
	if err := syncBatch(c.dir, files, dirs); err != nil {
		return nil, fmt.Errorf("sync: %w", err)
	}
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		for _, st := range ok {
			if err := c.register(ctx, tx, st); err != nil {
				return fmt.Errorf("import %q: %w", st.key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	j := 0
	for i := range res {
		if res[i].Err == nil {
			res[i].Entry = ok[j].entry
			c.removeCommitted(ok[j])
			j++
		}
	}
	return res, nil
}
