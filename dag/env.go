package dag

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"dagrun/cache"
	"dagrun/nodes"
)

// slotInputs are the files materialized for one input slot of a node.
type slotInputs struct {
	slot  string
	files *cache.Inputs
}

// prepareEnv lays out a node's scratch folder under tmp: its inputs
// materialized from the cache as private copies (hashed while copied, see
// cache.MaterializeInputs), an empty output folder and a temp folder. On
// error it names the failed operation. The returned inputs serve
// checkNodeInputs after the node ran.
func prepareEnv(ctx context.Context, c *cache.Cache, n *Node, tmp string, input func(*Node) *cache.Entry) (*nodes.Env, []slotInputs, string, error) {
	env := &nodes.Env{
		Inputs:  map[string][]string{},
		OutDir:  filepath.Join(tmp, "out"),
		TempDir: filepath.Join(tmp, "tmp"),
	}
	for _, dir := range []string{env.OutDir, env.TempDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, "make scratch folder", err
		}
	}
	var ins []slotInputs
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
		si := slotInputs{slot: e.Slot, files: &cache.Inputs{}}
		if err := c.MaterializeInputs(ctx, m, dir, si.files); err != nil {
			return nil, nil, fmt.Sprintf("materialize input %q", e.Slot), err
		}
		ins = append(ins, si)
		env.Inputs[e.Slot] = append(env.Inputs[e.Slot], path)
	}
	return env, ins, "", nil
}

// checkNodeInputs reports, naming the slot, an input file the node removed,
// replaced or modified (see cache.Inputs.Check).
func checkNodeInputs(ctx context.Context, ins []slotInputs) error {
	for _, si := range ins {
		if err := si.files.Check(ctx); err != nil {
			var ice *cache.InputChangedError
			if errors.As(err, &ice) {
				return fmt.Errorf("input %q: %w", si.slot, err)
			}
			return err
		}
	}
	return nil
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
