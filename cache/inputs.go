package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Inputs records the files MaterializeInputs placed for a node, with the
// stat each had, so that Check can tell afterwards whether the node changed
// them.
type Inputs struct {
	files []placedInput
}

type placedInput struct {
	path   string // absolute
	name   string // relative to the folder it was materialized into
	digest string
	st     fileStat
}

// MaterializeInputs makes the files of m appear under dst as a node's
// private inputs: each is a copy of its blob, read-only (0444, or 0555 with
// the execute bit), hashed while it is copied. The node owns the copies:
// whatever it does to them never reaches the blob store or another node.
// A file with Path "." (from Sub of a single file) becomes dst itself.
// Folders are created as needed and an existing file at a destination is
// replaced. Each placed file is added to in for Check.
//
// A blob whose bytes do not hash to its digest, that is missing or that is
// not a regular file is never handed over: the entries that hold it are
// evicted (see evict) and the error says so; the next run recomputes them.
// A cancelled ctx stops the copy within a chunk.
func (c *Cache) MaterializeInputs(ctx context.Context, m Manifest, dst string, in *Inputs) error {
	for _, f := range m {
		if err := c.materializeInput(ctx, f, dst, in); err != nil {
			return c.wrap(fmt.Sprintf("materialize %q into %q", f.Path, dst), err)
		}
	}
	return nil
}

func (c *Cache) materializeInput(ctx context.Context, f File, dst string, in *Inputs) error {
	clean := path.Clean(f.Path)
	if clean != f.Path || path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
		return fmt.Errorf("path %q is not a clean relative path", f.Path)
	}
	blob := c.BlobPath(f.Digest)
	if blob == "" {
		return fmt.Errorf("invalid digest %q", f.Digest)
	}
	target := filepath.Join(dst, filepath.FromSlash(clean))
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if err := os.Remove(target); err != nil && !isMissing(err) {
		return err
	}
	src, fi, err := openRegular(blob)
	switch {
	case isMissing(err):
		return c.badInput(ctx, badBlob{digest: f.Digest, msg: "blob file is missing"})
	case errors.Is(err, errNotRegular):
		return c.badInput(ctx, badBlob{digest: f.Digest, msg: "blob is not a regular file", irregular: true})
	case err != nil:
		return err
	}
	defer src.Close()
	perm := os.FileMode(0o444)
	if f.Exec {
		perm = 0o555
	}
	d, n, err := c.copyHashed(ctx, src, target, perm, false)
	if err != nil {
		return err
	}
	if d != f.Digest || n != f.Size {
		os.Remove(target)
		st, _ := statFile(blob)
		if st.inode == 0 {
			st.inode = inodeOf(fi)
		}
		return c.badInput(ctx, badBlob{digest: f.Digest, msg: fmt.Sprintf("blob content is corrupt (%d bytes hashing to %s)", n, d), inode: st.inode})
	}
	st, err := statForMemo(target)
	if err != nil {
		return err
	}
	in.files = append(in.files, placedInput{path: target, name: f.Path, digest: f.Digest, st: st})
	return nil
}

// badInput evicts the entries holding a bad blob met while materializing an
// input and returns the error that fails the node.
func (c *Cache) badInput(ctx context.Context, b badBlob) error {
	c.log.Warn("cache: an input's blob is bad; evicting the entries that hold it", "blob", b.digest, "problem", b.msg)
	dropped, err := c.evict(context.WithoutCancel(ctx), nil, []badBlob{b})
	if err != nil {
		return fmt.Errorf("blob %s: %s; %w", b.digest, b.msg, err)
	}
	return fmt.Errorf("blob %s: %s; evicted the %d cache entries that hold it or were computed from it unchecked, the next run recomputes them", b.digest, b.msg, len(dropped))
}

// InputChangedError reports that a node changed one of its input files.
type InputChangedError struct {
	Path string // relative to the input folder
	What string // "modified", "removed or replaced"
}

func (e *InputChangedError) Error() string {
	return fmt.Sprintf("the node %s its input file %q; a node must not change its inputs", e.What, e.Path)
}

// Check reports the first file MaterializeInputs placed that the node has
// since removed, replaced, or whose content it changed, as an
// *InputChangedError; nil when all are as placed. An unchanged stat (size,
// mtime, ctime, inode) proves an unchanged file: only a file whose ctime
// moved (a chmod, a hard link made to it, or a write with the mtime set
// back) is hashed again. The copies are private to the node, so nothing
// else moves their ctime. Changing only a copy's permission bits is
// allowed. A cancelled ctx stops the hashing.
func (in *Inputs) Check(ctx context.Context) error {
	for _, p := range in.files {
		st, err := statForMemo(p.path)
		switch {
		case err != nil || st.inode != p.st.inode:
			return &InputChangedError{Path: p.name, What: "removed or replaced"}
		case st == p.st:
			continue
		case st.size != p.st.size || st.mtime != p.st.mtime:
			return &InputChangedError{Path: p.name, What: "modified"}
		}
		f, _, err := openRegular(p.path)
		if err != nil {
			return &InputChangedError{Path: p.name, What: "removed or replaced"}
		}
		h := newHasher()
		_, err = copyCtx(ctx, h, f)
		f.Close()
		if err != nil {
			return err
		}
		if h.hex() != p.digest {
			return &InputChangedError{Path: p.name, What: "modified"}
		}
	}
	return nil
}

// Len returns how many files were placed.
func (in *Inputs) Len() int { return len(in.files) }
