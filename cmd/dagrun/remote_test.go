package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A run pushes to a file:// remote; an empty cache then runs the spec
// read-only from the remote with --expect-cached, byte for byte, and trust
// keys, read-only mode and --remote-required behave as README says.
func TestRemoteFileTier(t *testing.T) {
	dir := t.TempDir()
	specPath := filepath.Join(dir, "two.yaml")
	write(t, specPath, `name: two
nodes:
  a: {kind: command, params: {argv: [sh, -c, "echo a > {out}/a; : > {out}/empty; echo '{\"m\": 1.5}' > {out}/metrics.json"]}}
  b: {kind: command, inputs: {in: a}, params: {argv: [sh, -c, "cat {in.in}/a {in.in}/a > {out}/b"]}}
`)
	rem := filepath.Join(dir, "remote")
	url := "file://" + rem
	if r := cli(t, dir, "remote", "keygen", "--dir", dir, "ci"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli(t, dir, "remote", "keygen", "--dir", dir, "other"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	sec, pub, otherPub := filepath.Join(dir, "ci.sec"), filepath.Join(dir, "ci.pub"), filepath.Join(dir, "other.pub")

	// Unsigned push (a run), then a reader that trusts ci sees only misses.
	cA := filepath.Join(dir, "cacheA")
	if r := cli(t, dir, "--cache", cA, "--remote", url, specPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	cB := filepath.Join(dir, "cacheB")
	if r := cli(t, dir, "--cache", cB, "--remote", url, "--remote-read-only", "--remote-trust-key", pub, "--expect-cached", specPath); r.code != 1 || !strings.Contains(r.stderr, "no valid signature") {
		t.Errorf("unsigned entries under a trust key: exit %d, want 1 with a warning\n%s", r.code, r.stderr)
	}
	// A signed push makes them hits; a key of another name does not.
	if r := cli(t, dir, "--cache", cA, "--remote", url, "--remote-sign-key", sec, "remote", "push", specPath); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := cli(t, dir, "--cache", filepath.Join(dir, "cacheC"), "--remote", url, "--remote-read-only", "--remote-trust-key", otherPub, "--expect-cached", specPath); r.code != 1 {
		t.Errorf("entries signed by an untrusted key: exit %d, want 1\n%s", r.code, r.stderr)
	}
	cS := filepath.Join(dir, "cacheS")
	if r := cli(t, dir, "--cache", cS, "--remote", url, "remote", "status", specPath); r.code != 0 || r.stdout != "a\tremote\nb\tunknown (an upstream node is not local)\n" {
		t.Errorf("remote status of an empty cache: exit %d\n%q\n%s", r.code, r.stdout, r.stderr)
	}
	before := countFiles(t, rem)
	cD := filepath.Join(dir, "cacheD")
	r := cli(t, dir, "--cache", cD, "--remote", url, "--remote-read-only", "--remote-trust-key", pub, "--expect-cached", specPath)
	if r.code != 0 {
		t.Fatalf("read-only pull with --expect-cached: exit %d\n%s", r.code, r.stderr)
	}
	if after := countFiles(t, rem); after != before {
		t.Errorf("a read-only run changed the remote: %d objects, then %d", before, after)
	}
	if r := cli(t, dir, "--cache", cD, "cache", "stats"); !strings.Contains(r.stdout, "remote   2 hits") {
		t.Errorf("cache stats does not count 2 remote hits:\n%s", r.stdout)
	}
	// remote pull and push print a line per entry (stderr is not a
	// terminal here) and a summary. A pulled entry's line comes when its
	// blobs are in, so a and b may come in either order (b's total is known
	// once its level is looked up).
	cP := filepath.Join(dir, "cacheP")
	pulled := regexp.MustCompile(`^\[1/[12]\] pulled (a|b)\n\[2/2\] pulled (a|b)\npull: 2 entries, 4 blobs, `)
	if r := cli(t, dir, "--cache", cP, "--remote", url, "remote", "pull", "-j", "3", specPath); r.code != 0 {
		t.Errorf("remote pull: exit %d\n%s", r.code, r.stderr)
	} else if m := pulled.FindStringSubmatch(r.stderr); m == nil || m[1] == m[2] {
		t.Errorf("remote pull: want a line per entry and a summary:\n%s", r.stderr)
	}
	if r := cli(t, dir, "--cache", cP, "--remote", url, "remote", "push", specPath); r.code != 0 ||
		!strings.Contains(r.stderr, "pushed a\n") || !strings.Contains(r.stderr, "pushed b\n") || !strings.Contains(r.stderr, "push: 2 entries, 0 blobs, 0 bytes, ") {
		t.Errorf("remote push of what the remote has: exit %d, want lines and 0 blobs sent:\n%s", r.code, r.stderr)
	}
	if r := cli(t, dir, "--cache", cP, "--remote", url, "remote", "pull", "-j", "0", specPath); r.code != 2 {
		t.Errorf("remote pull -j 0: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// The outputs are the same entries: plans of both caches name the same keys.
	pa := cli(t, dir, "--cache", cA, "plan", "--json", specPath)
	pd := cli(t, dir, "--cache", cD, "plan", "--json", specPath)
	if pa.code != 0 || pa.stdout != pd.stdout {
		t.Errorf("plans differ:\n%s\n%s", pa.stdout, pd.stdout)
	}
	// An unreachable remote: local-only with one warning, or exit 3 when required.
	bad := "file://" + filepath.Join(dir, "not-a-folder")
	write(t, filepath.Join(dir, "not-a-folder"), "x")
	cE := filepath.Join(dir, "cacheE")
	if r := cli(t, dir, "--cache", cE, "--remote", bad, specPath); r.code != 0 || strings.Count(r.stderr, "remote cache unavailable") != 1 {
		t.Errorf("broken remote: exit %d, want 0 with one warning\n%s", r.code, r.stderr)
	}
	if r := cli(t, dir, "--cache", filepath.Join(dir, "cacheF"), "--remote", bad, "--remote-required", specPath); r.code != 3 {
		t.Errorf("broken remote with --remote-required: exit %d, want 3\n%s", r.code, r.stderr)
	}
	if r := cli(t, dir, "--cache", cE, "--remote", "ftp://x/y", specPath); r.code != 2 {
		t.Errorf("unsupported scheme: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

func countFiles(t *testing.T, root string) int {
	n := 0
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}
