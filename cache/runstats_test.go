package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRunAndKindStats(t *testing.T) {
	ctx := context.Background()
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	commit := func(key, kind string, d time.Duration) {
		dir, err := c.TempDir("t-")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "f"), []byte(key), 0o644)
		if _, err := c.Commit(ctx, key, dir, Record{Kind: kind, Duration: d}); err != nil {
			t.Fatal(err)
		}
	}
	commit("k1", "train", 3*time.Second)
	commit("k2", "train", 5*time.Second)
	commit("k3", "eval", time.Second)
	// Run 1 computed everything; run 2 hit k1 and k3 and recomputed k2.
	c.RecordRun(ctx, "s", []RunNode{{Node: "a", Key: "k1", Status: "done", Duration: 3 * time.Second},
		{Node: "b", Key: "k2", Status: "done", Duration: 5 * time.Second}, {Node: "c", Key: "k3", Status: "done", Duration: time.Second}})
	c.Get(ctx, "k1")
	c.Get(ctx, "k3")
	c.RecordRun(ctx, "s", []RunNode{{Node: "a", Key: "k1", Status: "cached"},
		{Node: "b", Key: "k2", Status: "done", Duration: 4 * time.Second}, {Node: "c", Key: "k3", Status: "cached"}})
	runs, err := c.RunStats(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 2 {
		t.Fatalf("runs = %d", len(runs))
	}
	r := runs[0]
	if r.Nodes != 3 || r.Cached != 2 || r.Ran != 1 || r.Compute != 4*time.Second || r.Saved != 4*time.Second {
		t.Errorf("latest run = %+v, want 3 nodes, 2 cached, 1 ran, 4s computed, 4s saved (3s + 1s)", r)
	}
	if runs[1].Saved != 0 || runs[1].Compute != 9*time.Second {
		t.Errorf("first run = %+v, want 9s computed, nothing saved", runs[1])
	}
	kinds, err := c.KindStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []KindStat{{Kind: "eval", Entries: 1, Compute: time.Second, Hits: 1, Runs: 1}, {Kind: "train", Entries: 2, Compute: 8 * time.Second, Hits: 1, Runs: 3}}
	if len(kinds) != 2 || kinds[0] != want[0] || kinds[1] != want[1] {
		t.Errorf("kinds = %+v, want %+v", kinds, want)
	}
}

func TestGetManyMatchesGet(t *testing.T) {
	ctx := context.Background()
	c, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var keys []string
	for i := 0; i < 1200; i++ { // more than one chunk
		key := fmt.Sprintf("k%04d", i)
		keys = append(keys, key)
		if i%3 == 0 {
			continue // absent
		}
		dir, _ := c.TempDir("t-")
		os.WriteFile(filepath.Join(dir, "f"), []byte(key), 0o644)
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "g"), []byte("shared"), 0o644)
		if _, err := c.Commit(ctx, key, dir, Record{Kind: "k", Metrics: map[string]float64{"m": float64(i)}, Log: []byte("log " + key)}); err != nil {
			t.Fatal(err)
		}
	}
	// Damage one entry's blob: GetMany must drop it like Get does.
	bad, _ := c.Get(ctx, "k0001")
	p := c.BlobPath(bad.Manifest[0].Digest)
	os.Chmod(p, 0o644)
	os.WriteFile(p, []byte("tampered"), 0o644)
	got, err := c.GetMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 799 {
		t.Errorf("GetMany found %d entries, want 800 - 1 damaged", len(got))
	}
	if _, ok := got["k0001"]; ok {
		t.Error("GetMany returned the entry with a corrupt blob")
	}
	for _, key := range []string{"k0002", "k1198"} {
		want, err := c.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		g := got[key]
		if g == nil || g.Digest != want.Digest || fmt.Sprint(g.Manifest) != fmt.Sprint(want.Manifest) ||
			fmt.Sprint(g.Record.Metrics) != fmt.Sprint(want.Record.Metrics) || g.LogDigest != want.LogDigest {
			t.Errorf("GetMany(%s) = %+v, Get = %+v", key, g, want)
		}
	}
}
