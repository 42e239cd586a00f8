package onnx

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// LibraryEnv names the environment variable that, when set, holds the path
// of the ONNX Runtime shared library.
const LibraryEnv = "DAGRUN_ONNXRUNTIME"

// LibraryRel is where the library is looked for, relative to the spec's
// directory or one of its ancestors, when LibraryEnv is unset.
const LibraryRel = "third_party/onnxruntime/libonnxruntime.so.1"

// fetchHint says how to get the library; every "not found" error ends with it.
const fetchHint = "run `make onnxruntime` (scripts/fetch-onnxruntime.sh third_party/onnxruntime: npm pack onnxruntime-node@1.24.1, checked by sha256) or set $" + LibraryEnv

// Runtime is an initialised ONNX Runtime environment. The zero value is not
// usable; get one from Load.
type Runtime struct {
	// Path is the shared library that was loaded. The first library loaded
	// in a process stays for its lifetime.
	Path string
}

// once guards the process-wide initialisation; it is the package's only
// state.
var once struct {
	sync.Once
	path string
	err  error
}

// FindLibrary returns the shared library's path: $DAGRUN_ONNXRUNTIME when
// set, else LibraryRel under dir or its nearest ancestor that has it.
func FindLibrary(dir string) (string, error) {
	if p := os.Getenv(LibraryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("onnx runtime: $%s=%q: %w; %s", LibraryEnv, p, err, fetchHint)
		}
		return p, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("onnx runtime: %w", err)
	}
	for d := abs; ; {
		p := filepath.Join(d, LibraryRel)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
		up := filepath.Dir(d)
		if up == d {
			break
		}
		d = up
	}
	return "", fmt.Errorf("onnx runtime: %s not found in %q or any parent directory; %s", LibraryRel, abs, fetchHint)
}

// Load finds the library (see FindLibrary, from dir) and initialises the
// runtime, once per process: later calls return the runtime (or the error)
// of the first, whatever their dir.
func Load(dir string) (*Runtime, error) {
	once.Do(func() {
		path, err := FindLibrary(dir)
		if err != nil {
			once.err = err
			return
		}
		ort.SetSharedLibraryPath(path)
		once.path = path
		if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
			once.err = fmt.Errorf("onnx runtime: initialise %q: %w (is it ONNX Runtime 1.24.1 for this platform? %s)", path, err, fetchHint)
		}
	})
	if once.err != nil {
		return nil, once.err
	}
	return &Runtime{Path: once.path}, nil
}

// errNotLoaded guards against a zero Runtime.
var errNotLoaded = errors.New("onnx runtime: not loaded (use onnx.Load)")
