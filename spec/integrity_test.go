package spec

// Regression tests for issue 12 (cache integrity) in spec loading.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Item 1: matrix values holding "," or "=" made two cells' instances share
// a name, so that one node was wired to another cell's upstream. Expanded
// names must be unambiguous, and each input must name the instance of its
// own cell.
func TestExpandedNamesAreUnambiguous(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": `name: amb
matrix:
  x: ["a,y=b", "a"]
  y: ["c", "b,y=c"]
nodes:
  n: {kind: k, params: {v: "${x}|${y}"}}
  m: {kind: k, inputs: {in: n}, params: {v: "${x}|${y}"}}
`}, Options{})
	seen := map[string]bool{}
	for _, n := range sp.Nodes {
		if seen[n.Name] {
			t.Errorf("two nodes are named %q", n.Name)
		}
		seen[n.Name] = true
	}
	if len(sp.Nodes) != 8 {
		t.Fatalf("%d nodes, want 8", len(sp.Nodes))
	}
	byName := map[string]*Node{}
	for _, n := range sp.Nodes {
		byName[n.Name] = n
	}
	for _, m := range sp.Nodes {
		if m.Base != "m" {
			continue
		}
		up := byName[m.Inputs[0].Node]
		if up == nil || up.Base != "n" || !sameCell(up.Cell, m.Cell) {
			t.Errorf("%s reads %q, want n of its own cell %v", m.Name, m.Inputs[0].Node, m.Cell)
		}
	}
}

func sameCell(a, b []AxisValue) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Item 1: plain values keep their names (run histories and `plan` refer
// to them); values that need it are quoted.
func TestExpandedNameQuoting(t *testing.T) {
	sp := mustParse(t, map[string]string{"spec.yaml": `name: q
matrix:
  seed: [1]
  gen: ["vae", "a,b", "x=y", "[z]", "say \"hi\"", "tab\there", ""]
nodes:
  train: {kind: k, params: {v: "${seed}${gen}"}}
`}, Options{})
	var got []string
	for _, n := range sp.Nodes {
		got = append(got, n.Name)
	}
	want := []string{
		`train[seed=1,gen=vae]`,
		`train[seed=1,gen="a,b"]`,
		`train[seed=1,gen="x=y"]`,
		`train[seed=1,gen="[z]"]`,
		`train[seed=1,gen="say \"hi\""]`,
		`train[seed=1,gen="tab\there"]`,
		`train[seed=1,gen=]`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("names:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Item 9: a spec that is a FIFO, or includes one, is refused instead of
// blocking forever on the open.
func TestFIFOSpecIsRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "root.yaml")
	if err := os.WriteFile(root, []byte("name: r\ninclude: [fifo.yaml]\nnodes:\n  a: {kind: k}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, root} {
		done := make(chan error, 1)
		go func() {
			_, err := Load(p, Options{})
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Load(%s) = %v, want a refusal of the FIFO", filepath.Base(p), err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("Load(%s) hung on a FIFO", filepath.Base(p))
		}
	}
}
