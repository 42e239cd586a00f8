package cache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRecordRunLastRun(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	if got, err := c.LastRun(ctx, "a.yaml"); err != nil || len(got) != 0 {
		t.Fatalf("LastRun before any run = %v, %v; want empty", got, err)
	}
	id1, err := c.RecordRun(ctx, "a.yaml", []RunNode{
		{Node: "data", Key: "k1", Digest: "d1", Status: "done", Duration: time.Second},
		{Node: "train", Key: "k2", Digest: "d2", Status: "done"},
	})
	must(t, err)
	id2, err := c.RecordRun(ctx, "b.yaml", []RunNode{{Node: "x", Key: "kx", Status: "failed"}})
	must(t, err)
	id3, err := c.RecordRun(ctx, "a.yaml", []RunNode{
		{Node: "data", Key: "k1", Digest: "d1", Status: "cached", Duration: 0},
		{Node: "train", Key: "k3", Digest: "", Status: "failed", Duration: 2 * time.Second},
	})
	must(t, err)
	if !(id1 < id2 && id2 < id3) {
		t.Errorf("run ids %d, %d, %d not increasing", id1, id2, id3)
	}
	got, err := c.LastRun(ctx, "a.yaml")
	must(t, err)
	want := map[string]RunNode{
		"data":  {Node: "data", Key: "k1", Digest: "d1", Status: "cached"},
		"train": {Node: "train", Key: "k3", Status: "failed", Duration: 2 * time.Second},
	}
	if len(got) != len(want) || got["data"] != want["data"] || got["train"] != want["train"] {
		t.Errorf("LastRun(a) = %v, want %v", got, want)
	}
	if got, _ := c.LastRun(ctx, "b.yaml"); len(got) != 1 || got["x"].Status != "failed" {
		t.Errorf("LastRun(b) = %v", got)
	}
	// A duplicate node name fails the whole run: nothing is recorded.
	if _, err := c.RecordRun(ctx, "c.yaml", []RunNode{{Node: "n"}, {Node: "n"}}); err == nil {
		t.Errorf("RecordRun with a duplicate node succeeded")
	}
	if st, _ := c.Stats(ctx); st.Runs != 3 {
		t.Errorf("Stats.Runs = %d, want 3", st.Runs)
	}
}

func TestGC(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	commit := func(key string, files map[string]string, log string) {
		t.Helper()
		if _, err := c.Commit(ctx, key, output(t, c, files), Record{Log: []byte(log)}); err != nil {
			t.Fatal(err)
		}
	}
	commit("kept-by-set", map[string]string{"f": "shared", "g": "only kept"}, "log kept")
	commit("kept-by-run", map[string]string{"f": "shared"}, "")
	commit("old-run", map[string]string{"f": "only old run"}, "")
	commit("unused", map[string]string{"f": "shared", "h": "only unused"}, "log unused")
	_, err := c.RecordRun(ctx, "s", []RunNode{{Node: "a", Key: "old-run"}})
	must(t, err)
	_, err = c.RecordRun(ctx, "s", []RunNode{{Node: "a", Key: "kept-by-run"}})
	must(t, err)

	// Garbage from a crash: a blob file never registered, and a scratch
	// folder of a dead process.
	stray := "garbage that was never registered"
	strayPath := c.BlobPath(sha(stray))
	must(t, os.MkdirAll(filepath.Dir(strayPath), 0o755))
	must(t, os.WriteFile(strayPath, []byte(stray), 0o444))
	deadTmp := filepath.Join(c.Dir(), "tmp", "p"+strconv.Itoa(deadPID(t))+"-7-x")
	must(t, os.MkdirAll(deadTmp, 0o755))
	must(t, os.WriteFile(filepath.Join(deadTmp, "partial"), []byte("12345"), 0o644))
	live, err := c.TempDir("live-")
	must(t, err)

	r, err := c.GC(ctx, map[string]bool{"kept-by-set": true, "not-an-entry": true}, 1)
	must(t, err)
	freed := []string{"only old run", "only unused", "log unused", stray}
	var wantBytes int64 = 5 // the scratch folder's file
	for _, s := range freed {
		wantBytes += int64(len(s))
	}
	if r.Entries != 2 || r.Blobs != 4 || r.TmpDirs != 1 || r.Bytes != wantBytes {
		t.Errorf("GC = %+v, want 2 entries, 4 blobs, 1 tmp dir, %d bytes", r, wantBytes)
	}
	for _, key := range []string{"kept-by-set", "kept-by-run"} {
		if _, err := c.Get(ctx, key); err != nil {
			t.Errorf("Get(%q) after GC = %v", key, err)
		}
	}
	for _, key := range []string{"old-run", "unused"} {
		if _, err := c.Get(ctx, key); err != ErrNotFound {
			t.Errorf("Get(%q) after GC = %v, want ErrNotFound", key, err)
		}
	}
	for _, s := range freed {
		if _, err := os.Stat(c.BlobPath(sha(s))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("blob of %q still there: %v", s, err)
		}
	}
	for _, s := range []string{"shared", "only kept", "log kept"} {
		if _, err := os.Stat(c.BlobPath(sha(s))); err != nil {
			t.Errorf("blob of %q removed: %v", s, err)
		}
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("GC removed a live scratch folder: %v", err)
	}
	st, _ := c.Stats(ctx)
	if st.Entries != 2 || st.Blobs != 3 {
		t.Errorf("Stats after GC = %+v, want 2 entries, 3 blobs", st)
	}
	if ps, err := c.Verify(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Verify after GC = %v, %v", ps, err)
	}
	// Nothing kept: everything goes.
	r, err = c.GC(ctx, nil, 0)
	must(t, err)
	if r.Entries != 2 || r.Blobs != 3 || len(objectFiles(t, c)) != 0 {
		t.Errorf("GC(nothing kept) = %+v, %d files left", r, len(objectFiles(t, c)))
	}
}

func TestVerifyIndexConsistency(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	_, err := c.Commit(ctx, "k", output(t, c, map[string]string{"a": "1", "b": "2"}), Record{})
	must(t, err)
	// Tamper with the index behind the cache's back.
	db := rawDB(t, c.Dir())
	_, err = db.Exec(`UPDATE manifests SET size = 9 WHERE path = 'a'`)
	must(t, err)
	_, err = db.Exec(`INSERT INTO manifests (key, path, digest, size, exec) VALUES ('ghost', 'x', 'nope', 1, 0)`)
	must(t, err)
	ps, err := c.Verify(ctx)
	must(t, err)
	var msgs []string
	for _, p := range ps {
		msgs = append(msgs, p.String())
	}
	want := []string{
		`index: a row of table "manifests" refers to a missing row of "entries"`,
		`index: a row of table "manifests" refers to a missing row of "blobs"`,
		`manifest says 9 bytes, blob row says 1`,
		`entry digest does not match its manifest`,
	}
	for _, w := range want {
		found := false
		for _, m := range msgs {
			found = found || strings.Contains(m, w)
		}
		if !found {
			t.Errorf("Verify = %q, missing %q", msgs, w)
		}
	}
}
