package file

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"dagrun/nodes"
)

// Params configure a file node.
type Params struct {
	Path string `yaml:"path" json:"-" doc:"file or folder, relative to the spec; only its content enters the key"`
}

// Validate implements nodes.Validator.
func (p Params) Validate() error {
	if p.Path == "" {
		return errors.New("path is required")
	}
	return nil
}

// Kind returns the file kind.
func Kind() *nodes.Kind {
	return nodes.Typed(nodes.Kind{
		Name:    "file",
		Doc:     "a file or folder from outside, identified by its content",
		Version: 1,
	}, nil, func(b nodes.Build, p Params) (nodes.Node, error) {
		path := p.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(b.Dir, path)
		}
		return &node{path: path, given: p.Path}, nil
	})
}

type node struct{ path, given string }

// files lists the regular files to copy, relative to the root; a single
// file yields its base name.
func (n *node) files() (root string, rel []string, err error) {
	fi, err := os.Stat(n.path)
	if err != nil {
		return "", nil, fmt.Errorf("path %q: %w", n.given, err)
	}
	if !fi.IsDir() {
		return filepath.Dir(n.path), []string{filepath.Base(n.path)}, nil
	}
	err = filepath.WalkDir(n.path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%q is not a regular file", p)
		}
		r, _ := filepath.Rel(n.path, p)
		rel = append(rel, filepath.ToSlash(r))
		return nil
	})
	if err != nil {
		return "", nil, fmt.Errorf("path %q: %w", n.given, err)
	}
	sort.Strings(rel)
	return n.path, rel, nil
}

// Fingerprint implements nodes.Fingerprinter.
func (n *node) Fingerprint(ctx context.Context, h nodes.FileHasher) (map[string]string, error) {
	root, rel, err := n.files()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rel))
	for _, r := range rel {
		d, err := h.FileDigest(filepath.Join(root, filepath.FromSlash(r)))
		if err != nil {
			return nil, err
		}
		out["file:"+r] = d
	}
	return out, nil
}

// Run implements nodes.Node: it copies the files into the output folder,
// hashing what it copies. When the engine passes the digests the key was
// computed from (Env.Fingerprint), a file whose bytes differ from them (it
// was edited after the lookup, while the node waited for a -j slot or a
// lease) or a folder whose file list changed is refused: its copy must not
// be stored under the old key.
func (n *node) Run(ctx context.Context, env *nodes.Env) error {
	root, rel, err := n.files()
	if err != nil {
		return err
	}
	if env.Fingerprint != nil {
		keyed := 0
		for name := range env.Fingerprint {
			if strings.HasPrefix(name, "file:") {
				keyed++
			}
		}
		if keyed != len(rel) {
			return fmt.Errorf("path %q: holds %d files, the key was computed from %d; rerun to key the new content", n.given, len(rel), keyed)
		}
	}
	for _, r := range rel {
		if err := ctx.Err(); err != nil {
			return err
		}
		dst := filepath.Join(env.OutDir, filepath.FromSlash(r))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		d, err := copyFile(ctx, filepath.Join(root, filepath.FromSlash(r)), dst)
		if err != nil {
			return err
		}
		if want, ok := env.Fingerprint["file:"+r]; env.Fingerprint != nil && (!ok || d != want) {
			return fmt.Errorf("file %q changed after the node's key was computed (it hashes to %s, the key has %s); rerun to key the new content", r, d, want)
		}
	}
	return nil
}

// copyFile copies src to dst and returns the sha256 hex of what it copied.
func copyFile(ctx context.Context, src, dst string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(out, h), ctxReader{ctx, in})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ctxReader stops a copy when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
