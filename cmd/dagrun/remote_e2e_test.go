package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"dagrun/nodes/data"
)

// needLtsegData skips without the idx files table7 reads.
func needLtsegData(t *testing.T) {
	t.Helper()
	for _, name := range []string{"mnist", "fashion-mnist"} {
		if _, err := data.IDXFiles(name, filepath.Join("..", "..", "experiments")); err != nil {
			t.Skip(err)
		}
	}
}

// TestRemoteTable7 is the acceptance run on a real spec: table7's
// ci profile computed into cache A with a signing key pushes every entry
// to a file:// remote (write-back) and, when an S3 server is up, to a
// bucket (`remote push`); an empty cache B then runs the spec from each
// remote, read-only and trusting only that key, with --expect-cached: it
// computes nothing, leaves the remote untouched, counts every node as a
// remote hit, and `dagrun show` prints byte for byte the table cache A
// prints.
func TestRemoteTable7(t *testing.T) {
	if testing.Short() {
		t.Skip("a cold run of table7's ci profile: skipped with -short")
	}
	needLtsegData(t)
	dir := t.TempDir()
	spec, err := filepath.Abs(filepath.Join("..", "..", "experiments", "table7.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ci", "other"} {
		if r := cli(t, dir, "remote", "keygen", "--dir", dir, name); r.code != 0 {
			t.Fatal(r.stderr)
		}
	}
	sec, pub, otherPub := filepath.Join(dir, "ci.sec"), filepath.Join(dir, "ci.pub"), filepath.Join(dir, "other.pub")
	rem := filepath.Join(dir, "remote")
	remotes := map[string]string{"file": "file://" + rem}
	if ep := os.Getenv("DAGRUN_S3_ENDPOINT"); ep != "" {
		remotes["s3"] = fmt.Sprintf("s3://dagrun-test/table7-%d?endpoint=%s", time.Now().UnixNano(), ep)
	} else {
		t.Log("no S3 server (scripts/s3/start.sh): file:// only")
	}

	cA := filepath.Join(dir, "cacheA")
	r := cli(t, dir, "--cache", cA, "--profile", "ci", "--remote", remotes["file"], "--remote-sign-key", sec, "-q", spec)
	if r.code != 0 {
		t.Fatalf("table7 ci into cache A: exit %d\n%s", r.code, r.stderr)
	}
	nodes := regexp.MustCompile(`(\d+) nodes: 0 cached, (\d+) ran`).FindStringSubmatch(r.stderr)
	if nodes == nil || nodes[1] != nodes[2] {
		t.Fatalf("cold run summary: %q\n%s", nodes, r.stderr)
	}
	if u, ok := remotes["s3"]; ok {
		if r := cli(t, dir, "--cache", cA, "--profile", "ci", "--remote", u, "--remote-sign-key", sec, "remote", "push", spec); r.code != 0 ||
			!strings.Contains(r.stderr, "push: "+nodes[1]+" entries") {
			t.Fatalf("remote push to S3: exit %d\n%s", r.code, r.stderr)
		}
	}
	showA := cli(t, dir, "--cache", cA, "--profile", "ci", "show", spec)
	if showA.code != 0 || showA.stdout == "" {
		t.Fatalf("show from cache A: exit %d\n%s", showA.code, showA.stderr)
	}

	for kind, u := range remotes {
		t.Run(kind, func(t *testing.T) {
			// Entries signed by ci are misses for a reader that trusts
			// only another key: --expect-cached fails, nothing is fetched.
			cX := filepath.Join(dir, "cacheX-"+kind)
			if r := cli(t, dir, "--cache", cX, "--profile", "ci", "--remote", u, "--remote-read-only", "--remote-trust-key", otherPub, "--expect-cached", spec); r.code != 1 ||
				!strings.Contains(r.stderr, "no valid signature") {
				t.Errorf("untrusted signer: exit %d, want 1 with a warning\n%s", r.code, r.stderr)
			}
			before := 0
			if kind == "file" {
				before = countFiles(t, rem)
			}
			cB := filepath.Join(dir, "cacheB-"+kind)
			r := cli(t, dir, "--cache", cB, "--profile", "ci", "--remote", u, "--remote-read-only", "--remote-trust-key", pub, "--expect-cached", spec)
			if r.code != 0 {
				t.Fatalf("cache B from the remote with --expect-cached: exit %d\n%s", r.code, r.stderr)
			}
			if want := nodes[1] + " nodes: " + nodes[1] + " cached, 0 ran"; !strings.Contains(r.stderr, want) {
				t.Errorf("cache B computed something: want %q in\n%s", want, r.stderr)
			}
			if kind == "file" {
				if after := countFiles(t, rem); after != before {
					t.Errorf("a read-only run changed the remote: %d objects, then %d", before, after)
				}
			}
			if r := cli(t, dir, "--cache", cB, "cache", "stats"); !strings.Contains(r.stdout, "remote   "+nodes[1]+" hits") {
				t.Errorf("cache stats does not count %s remote hits:\n%s", nodes[1], r.stdout)
			}
			showB := cli(t, dir, "--cache", cB, "--profile", "ci", "show", spec)
			if showB.code != 0 || showB.stdout != showA.stdout {
				t.Errorf("show from cache B (exit %d) differs from cache A:\n--- A\n%s\n--- B\n%s\n%s", showB.code, showA.stdout, showB.stdout, showB.stderr)
			}
			pa := cli(t, dir, "--cache", cA, "--profile", "ci", "plan", "--json", spec)
			pb := cli(t, dir, "--cache", cB, "--profile", "ci", "plan", "--json", spec)
			if pa.code != 0 || pa.stdout != pb.stdout {
				t.Errorf("plans (keys and output digests) differ between the caches:\n%s\n%s", pa.stdout, pb.stdout)
			}
			if r := cli(t, dir, "--cache", cB, "cache", "verify"); r.code != 0 {
				t.Errorf("cache verify of cache B: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
		})
	}
}
