package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileStore is a Store in a plain folder: a mounted disk, NFS, a USB stick.
// Objects are files under Root; Put writes a temporary file beside the
// target, fsyncs it and renames it into place, so a reader sees a whole
// object or none.
type FileStore struct {
	Root string
}

func (s *FileStore) path(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, "..") || strings.Contains(name, "\\") {
		return "", fmt.Errorf("bad object name %q", name)
	}
	return filepath.Join(s.Root, filepath.FromSlash(name)), nil
}

// Get opens the object's file.
func (s *FileStore) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	p, err := s.path(name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", name, ErrNotExist)
	}
	return f, err
}

// Has stats the object's file.
func (s *FileStore) Has(ctx context.Context, name string) (bool, error) {
	p, err := s.path(name)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Put writes the object to a temporary file in its folder, fsyncs it and
// renames it into place.
func (s *FileStore) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	p, err := s.path(name)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	n, err := io.Copy(tmp, r)
	if err == nil && n != size {
		err = fmt.Errorf("put %s: wrote %d bytes, want %d", name, n, size)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
