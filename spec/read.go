package spec

// This file holds reading spec files: the size limits, the root read and
// the include walk that merges every file into one state.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest spec file (root or included) that is parsed.
const MaxFileSize = 8 << 20

// maxIncludeDepth and maxFiles bound includes: how deeply they nest and how many files
// one spec reads.
const (
	maxIncludeDepth = 32
	maxFiles        = 1000
	maxTotalBytes   = 64 << 20
)

// sizeError reports a file over MaxFileSize.
type sizeError struct{ size int64 }

func (e *sizeError) Error() string {
	return fmt.Sprintf("spec is %.1f MiB; the limit is %d MiB", float64(e.size)/(1<<20), MaxFileSize>>20)
}

// readLimited reads path, refusing files over MaxFileSize and anything but a
// regular file before reading them. The open does not block (O_NONBLOCK):
// opening a FIFO for reading would wait for a writer forever.
func readLimited(path string) ([]byte, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	for err == syscall.EINTR {
		fd, err = syscall.Open(path, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: errors.New("is a directory")}
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: path, Err: fmt.Errorf("is not a regular file (mode %v)", st.Mode().Type())}
	}
	if err := syscall.SetNonblock(fd, false); err != nil {
		return nil, err
	}
	if st.Size() > MaxFileSize {
		return nil, &sizeError{st.Size()}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, &sizeError{int64(len(data))}
	}
	return data, nil
}

// ioMessage turns a read error into a message without repeating the path.
func ioMessage(err error) string {
	var se *sizeError
	if errors.As(err, &se) {
		return se.Error()
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return "cannot read: " + pe.Err.Error()
	}
	return "cannot read: " + err.Error()
}

func fileKey(path string) string {
	k, err := filepath.Abs(path)
	if err != nil {
		return filepath.Clean(path)
	}
	return k
}

// loader reads files and merges them into a state.
type loader struct {
	read   func(string) ([]byte, error)
	errs   ErrorList
	loaded map[string]bool
	stack  []string
	keys   []string
	total  int // bytes read so far
}

// mergeFile parses path (content data), merges its includes and then its own content
// into st, and returns what only the root file decides. It returns nil when the file
// cannot be parsed at all.
func (ld *loader) mergeFile(st *state, path string, data []byte) *rawFile {
	key := fileKey(path)
	ld.loaded[key] = true
	ld.stack = append(ld.stack, path)
	ld.keys = append(ld.keys, key)
	defer func() {
		ld.stack = ld.stack[:len(ld.stack)-1]
		ld.keys = ld.keys[:len(ld.keys)-1]
	}()

	root := parseYAML(path, data, &ld.errs)
	rf := &rawFile{file: path, dir: absDir(path)}
	if root == nil {
		return rf
	}
	if root.Kind != yaml.MappingNode {
		ld.errs.Add(yamlPos(path, root), "", "spec must be a mapping, got %s", describe(root))
		return rf
	}
	fields := pairs(path, root, "", &ld.errs)
	// Includes first: their content is overridden by this file's.
	for _, p := range fields {
		if p.key.Value == "include" {
			ld.includes(st, path, p.val)
		}
	}
	known := []string{"name", "description", "include", "vars", "matrix", "profiles", "nodes", "report", "executor"}
	for _, p := range fields {
		k, v := p.key, p.val
		switch k.Value {
		case "name":
			if s, ok := ld.str(path, v, "name", ""); ok {
				rf.name, rf.namePos = s, yamlPos(path, v)
			}
		case "description":
			ld.str(path, v, "description", "")
		case "include":
		case "vars":
			for _, d := range ld.vars(path, v) {
				st.vars[d.name] = d
			}
		case "matrix":
			for _, a := range ld.matrix(path, v) {
				if old := st.axis(a.Name); old != nil {
					*old = *a
				} else {
					st.axes = append(st.axes, a)
				}
			}
		case "profiles":
			ld.profiles(st, path, v)
		case "nodes":
			ld.nodes(st, path, rf.dir, v)
		case "report":
			rf.report = v
		case "executor":
			if s, ok := ld.str(path, v, "executor", ""); ok {
				rf.executor, rf.executorPos = s, yamlPos(path, v)
			}
		default:
			ld.errs.Add(yamlPos(path, k), "", "unknown field %q%s", k.Value, hint(k.Value, known))
		}
	}
	return rf
}

// includes loads every file named by v (a path or a list of paths, relative to file).
func (ld *loader) includes(st *state, file string, v *yaml.Node) {
	var items []*yaml.Node
	switch {
	case v.Kind == yaml.ScalarNode && !isNull(v):
		items = []*yaml.Node{v}
	case v.Kind == yaml.SequenceNode:
		items = v.Content
	case isNull(v):
	default:
		ld.errs.Add(yamlPos(file, v), "", "include must be a path or a list of paths, got %s", describe(v))
		return
	}
	for _, it := range items {
		if it.Kind != yaml.ScalarNode || isNull(it) || it.Value == "" {
			ld.errs.Add(yamlPos(file, it), "", "include must be a path or a list of paths, got %s", describe(it))
			continue
		}
		p := it.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		key := fileKey(p)
		if i := indexOf(ld.keys, key); i >= 0 {
			chain := append(append([]string{}, ld.stack[i:]...), p)
			ld.errs.Add(yamlPos(file, it), "", "include cycle: %s", strings.Join(chain, " -> "))
			continue
		}
		if ld.loaded[key] {
			continue // already merged through another include
		}
		if len(ld.stack) >= maxIncludeDepth {
			ld.errs.Add(yamlPos(file, it), "", "includes nest deeper than %d files", maxIncludeDepth)
			continue
		}
		if len(ld.loaded) >= maxFiles {
			ld.errs.Add(yamlPos(file, it), "", "the spec includes more than %d files", maxFiles)
			continue
		}
		data, err := ld.read(p)
		if err == nil && len(data) > MaxFileSize {
			err = &sizeError{int64(len(data))}
		}
		if err != nil {
			ld.errs.Add(yamlPos(file, it), "", "include %q: %s", it.Value, ioMessage(err))
			continue
		}
		ld.total += len(data)
		if ld.total > maxTotalBytes {
			ld.errs.Add(yamlPos(file, it), "", "include %q: the spec and its includes exceed %d MiB", it.Value, maxTotalBytes>>20)
			continue
		}
		ld.mergeFile(st, p, data)
	}
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}
