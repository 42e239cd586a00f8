package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/spec"
)

func numCPU() int { return runtime.NumCPU() }

// load reads, expands and binds a spec.
func (a *app) load(path string) (*dag.Graph, error) {
	set := map[string]string{}
	for _, kv := range a.sets {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, withCode(exitInvalid, fmt.Errorf("dagrun: --set %q: want name=value", kv))
		}
		set[k] = v
	}
	s, err := spec.Load(path, spec.Options{Profile: a.profile, Set: set})
	if err != nil {
		return nil, err
	}
	return dag.Build(s, registry())
}

// cachePath picks the cache folder: --cache, then $DAGRUN_CACHE, then
// .dagrun/ at the project root above the spec (the nearest folder holding
// .git, go.mod or .dagrun), else beside the spec.
func (a *app) cachePath(specPath string) string {
	if a.cacheDir != "" {
		return a.cacheDir
	}
	if d := os.Getenv("DAGRUN_CACHE"); d != "" {
		return d
	}
	dir := "."
	if specPath != "" {
		dir = filepath.Dir(specPath)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.Join(dir, ".dagrun")
	}
	for d := abs; ; d = filepath.Dir(d) {
		for _, marker := range []string{".dagrun", ".git", "go.mod"} {
			if _, err := os.Stat(filepath.Join(d, marker)); err == nil {
				return filepath.Join(d, ".dagrun")
			}
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return filepath.Join(abs, ".dagrun")
}

func (a *app) openCache(specPath string) (*cache.Cache, error) {
	c, err := cache.Open(a.cachePath(specPath), cache.Options{Logger: a.log})
	if err != nil {
		var ce *cache.Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, withCode(exitCacheIO, err)
	}
	return c, nil
}

// loadWithCache loads the spec at path and opens the cache that belongs to
// it; the caller closes the cache.
func (a *app) loadWithCache(path string) (*dag.Graph, *cache.Cache, error) {
	g, err := a.load(path)
	if err != nil {
		return nil, nil, err
	}
	c, err := a.openCache(path)
	if err != nil {
		return nil, nil, err
	}
	return g, c, nil
}
