package generate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"

	"dagrun/nodes"
)

// runKind builds a node of kind k with its default params changed by set and
// runs it on inputs, returning its output dir.
func runKind[P any](t *testing.T, k *nodes.Kind, b nodes.Build, set func(*P), inputs map[string][]string) string {
	t.Helper()
	out, err := tryRunKind(t, k, b, set, inputs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func tryRunKind[P any](t *testing.T, k *nodes.Kind, b nodes.Build, set func(*P), inputs map[string][]string) (string, error) {
	t.Helper()
	p := k.Params().(*P)
	if set != nil {
		set(p)
	}
	n, err := k.New(b, p)
	if err != nil {
		return "", err
	}
	out := t.TempDir()
	env := &nodes.Env{Inputs: inputs, OutDir: out, TempDir: t.TempDir()}
	return out, n.Run(context.Background(), env)
}

// fileHasher digests files with SHA-256.
type fileHasher struct{}

func (fileHasher) FileDigest(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:]), nil
}
