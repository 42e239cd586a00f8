package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"dagrun/spec"
)

// TestEverySpecValidates runs `dagrun validate` on every spec under
// experiments/, with no profile and with each profile it defines (its own
// and those of the files it includes), so a spec that only a rarely run
// profile breaks (an axis renamed in an include, a var a profile no longer
// matches) fails here rather than on a user's machine.
func TestEverySpecValidates(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "experiments", "*.yaml"))
	checks, _ := filepath.Glob(filepath.Join("..", "..", "experiments", "checks", "*.yaml"))
	files = append(files, checks...)
	if len(files) < 10 {
		t.Fatalf("found %d specs under experiments/, want the whole set", len(files))
	}
	for _, f := range files {
		sp, err := spec.Load(f, spec.Options{})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, p := range append([]string{""}, sp.Profiles...) {
			args := []string{"validate", f}
			if p != "" {
				args = []string{"validate", "--profile", p, f}
			}
			var out, errb bytes.Buffer
			if code := run(context.Background(), args, &out, &errb); code != 0 {
				t.Errorf("dagrun %v: exit %d\n%s", args, code, errb.String())
			}
		}
	}
}
