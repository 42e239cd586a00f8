package dag

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"dagrun/cache"
	"dagrun/nodes"
)

// prepareEnv lays out a node's scratch folder under tmp: its inputs
// materialized from the cache, an empty output folder and a temp folder. On
// error it names the failed operation.
func prepareEnv(c *cache.Cache, n *Node, tmp string, input func(*Node) *cache.Entry) (*nodes.Env, string, error) {
	env := &nodes.Env{
		Inputs:  map[string][]string{},
		OutDir:  filepath.Join(tmp, "out"),
		TempDir: filepath.Join(tmp, "tmp"),
	}
	for _, dir := range []string{env.OutDir, env.TempDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, "make scratch folder", err
		}
	}
	for _, e := range n.Inputs {
		m := input(e.From).Manifest
		if e.Output != "" {
			m = m.Sub(e.Output)
		}
		dir := filepath.Join(tmp, "in", e.Slot, strconv.Itoa(e.Index))
		path := dir
		if len(m) == 1 && m[0].Path == "." {
			// A single-file output: materialize it under its own name.
			f := m[0]
			f.Path = filepath.Base(e.Output)
			m = cache.Manifest{f}
			path = filepath.Join(dir, f.Path)
		}
		if err := c.Materialize(m, dir); err != nil {
			return nil, fmt.Sprintf("materialize input %q", e.Slot), err
		}
		env.Inputs[e.Slot] = append(env.Inputs[e.Slot], path)
	}
	return env, "", nil
}

// freshDirs empties each of dirs (removing and recreating it).
func freshDirs(dirs ...string) error {
	for _, d := range dirs {
		if err := os.RemoveAll(d); err != nil {
			return err
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}
