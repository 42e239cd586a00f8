package cache

// Regression tests for issue 12 (cache integrity): each one failed before
// the fix it names.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rot flips one byte of the blob file at p in place, keeping its size, its
// mtime and its inode: silent bit rot, which no stat can see.
func rot(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	must(t, err)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		// Not root: allow writing for a moment (chmod changes only ctime).
		must(t, os.Chmod(p, 0o644))
		f, err = os.OpenFile(p, os.O_RDWR, 0)
		must(t, err)
		defer os.Chmod(p, 0o444)
	}
	b := make([]byte, 1)
	_, err = f.ReadAt(b, 0)
	must(t, err)
	b[0] ^= 0x20
	_, err = f.WriteAt(b, 0)
	must(t, err)
	must(t, f.Close())
	must(t, os.Chtimes(p, fi.ModTime(), fi.ModTime()))
}

// noHang fails the test when fn does not return within a generous bound:
// it guards tests of code that used to block forever.
func noHang(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s hung", what)
	}
}

// Item 4: bit rot that keeps size, mtime and inode. Verify finds it and
// evicts the entry, so the next lookup misses; an entry whose recorded
// inputs name the evicted output, committed without checked inputs (by an
// older dagrun), goes too, since it may have been computed from the bad
// bytes; an unrelated entry stays.
func TestVerifyEvictsBitRotAndWhatWasComputedFromIt(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	up, err := c.Commit(ctx, "up", output(t, c, map[string]string{"d.bin": "precious bytes", "sub/e.txt": "more"}), Record{Kind: "k"})
	must(t, err)
	// "down" read only the sub folder of up: its inputs name that part's digest.
	subDigest := up.Manifest.Sub("sub").Digest()
	_, err = c.Commit(ctx, "down", output(t, c, map[string]string{"o": "from up"}),
		Record{Kind: "k", Inputs: fmt.Sprintf(`[{"slot":"x","index":0,"digest":%q}]`, subDigest)})
	must(t, err)
	_, err = c.Commit(ctx, "other", output(t, c, map[string]string{"o": "unrelated"}), Record{Kind: "k"})
	must(t, err)
	// "checked" read up's whole output, hashing it while it was copied:
	// it was computed from good bytes and stays.
	_, err = c.Commit(ctx, "checked", output(t, c, map[string]string{"o": "from up, checked"}),
		Record{Kind: "k", Inputs: fmt.Sprintf(`[{"slot":"x","index":0,"digest":%q}]`, up.Digest), InputsChecked: true})
	must(t, err)
	rot(t, c.BlobPath(sha("precious bytes")))

	if _, err := c.Get(ctx, "up"); err != nil {
		t.Fatalf("Get before Verify = %v (the stat is unchanged: trusted)", err)
	}
	ps, err := c.Verify(ctx)
	must(t, err)
	if len(ps) == 0 || !strings.Contains(fmt.Sprint(ps), "corrupt") {
		t.Fatalf("Verify = %v, want the corrupt blob", ps)
	}
	for _, key := range []string{"up", "down"} {
		if _, err := c.Get(ctx, key); err != ErrNotFound {
			t.Errorf("Get(%q) after Verify = %v, want ErrNotFound (evicted)", key, err)
		}
	}
	for _, key := range []string{"other", "checked"} {
		if _, err := c.Get(ctx, key); err != nil {
			t.Errorf("Get(%q) after Verify = %v, want it kept", key, err)
		}
	}
	if _, err := os.Stat(c.BlobPath(sha("precious bytes"))); err == nil {
		t.Errorf("the corrupt blob file is still in the store")
	}
	if ps, err := c.Verify(ctx); err != nil || len(ps) != 0 {
		t.Errorf("second Verify = %v, %v; want a clean cache", ps, err)
	}
}

// Item 8: a blob path that is a folder, and a shard folder that is a file,
// are misses with a warning (the thing is moved aside), never errors, and
// the recomputed entry can be stored again.
func TestNonRegularBlobIsAMiss(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, c *Cache, blob string)
	}{
		{"blob is a folder", func(t *testing.T, c *Cache, blob string) {
			must(t, os.Remove(blob))
			must(t, os.MkdirAll(filepath.Join(blob, "inside"), 0o755))
		}},
		{"shard is a file", func(t *testing.T, c *Cache, blob string) {
			shard := filepath.Dir(blob)
			must(t, os.RemoveAll(shard))
			must(t, os.WriteFile(shard, []byte("not a folder"), 0o644))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newCache(t)
			files := map[string]string{"f": "content of f"}
			_, err := c.Commit(ctx, "k", output(t, c, files), Record{})
			must(t, err)
			_, err = c.Commit(ctx, "fine", output(t, c, map[string]string{"g": "another"}), Record{})
			must(t, err)
			tc.damage(t, c, c.BlobPath(sha("content of f")))

			got, err := c.GetMany(ctx, []string{"k", "fine"})
			if err != nil {
				t.Fatalf("GetMany = %v, want a miss for k", err)
			}
			if _, ok := got["k"]; ok || got["fine"] == nil {
				t.Errorf("GetMany found %v, want only fine", got)
			}
			if !strings.Contains(logs.String(), "WARN") {
				t.Errorf("no warning logged: %q", logs.String())
			}
			if _, err := c.Commit(ctx, "k", output(t, c, files), Record{}); err != nil {
				t.Fatalf("Commit after the damage = %v", err)
			}
			if _, err := c.Get(ctx, "k"); err != nil {
				t.Errorf("Get after recommit = %v", err)
			}
		})
	}
}

// Item 9: a blob replaced by a FIFO used to block Get forever (opening a
// FIFO for reading waits for a writer).
func TestFIFOBlobDoesNotHang(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	_, err := c.Commit(ctx, "k", output(t, c, map[string]string{"f": "fifo victim"}), Record{})
	must(t, err)
	blob := c.BlobPath(sha("fifo victim"))
	must(t, os.Remove(blob))
	must(t, syscall.Mkfifo(blob, 0o644))
	noHang(t, "Get of a FIFO blob", func() {
		if _, err := c.Get(ctx, "k"); err != ErrNotFound {
			t.Errorf("Get = %v, want ErrNotFound", err)
		}
	})
	noHang(t, "Verify with a FIFO blob", func() {
		if _, err := c.Verify(ctx); err != nil {
			t.Errorf("Verify = %v", err)
		}
	})
}

// Item 12: an output file that is a hard link to a file outside the cache
// (link count above 1) is copied into the store, not adopted: the outside
// file keeps its mode and later edits to it cannot reach the blob.
func TestHardLinkedOutputIsCopied(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	outside := filepath.Join(t.TempDir(), "outside.txt")
	must(t, os.WriteFile(outside, []byte("shared inode"), 0o644))
	dir, err := c.TempDir("out-")
	must(t, err)
	if err := os.Link(outside, filepath.Join(dir, "f")); err != nil {
		t.Skipf("cannot hard-link across these folders: %v", err)
	}
	e, err := c.Commit(ctx, "k", dir, Record{})
	must(t, err)
	fi, err := os.Stat(outside)
	must(t, err)
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("outside file mode = %v, want 0644 untouched", fi.Mode().Perm())
	}
	must(t, os.WriteFile(outside, []byte("edited later"), 0o644))
	b, err := os.ReadFile(c.BlobPath(e.Manifest[0].Digest))
	if err != nil || string(b) != "shared inode" {
		t.Errorf("blob = %q, %v; want the committed bytes", b, err)
	}
}

// Item 12: output names with control characters are refused; dots inside a
// name are fine.
func TestOutputNameRules(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	for _, name := range []string{"a..b.tar", "..hidden", "v1..2/x", "ünï code"} {
		if _, err := c.Commit(ctx, "ok-"+name, output(t, c, map[string]string{name: "x"}), Record{}); err != nil {
			t.Errorf("Commit of %q = %v, want it stored", name, err)
		}
	}
	for _, name := range []string{"new\nline", "tab\there", "sub\r/x", "bell\x07", "del\x7f"} {
		_, err := c.Commit(ctx, "bad", output(t, c, map[string]string{name: "x"}), Record{})
		if err == nil || !strings.Contains(err.Error(), "control character") {
			t.Errorf("Commit of %q = %v, want a refusal naming the control character", name, err)
		}
	}
}

// Item 12: GC deletes lease rows whose owner is gone or expired; a live
// one stays.
func TestGCRemovesStaleLeases(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	insertLease(t, c, "dead-owner", c.self.host, 1<<22+12345, 1, time.Now().Add(time.Hour))
	insertLease(t, c, "expired", "elsewhere", 1, 1, time.Now().Add(-time.Minute))
	l, err := c.Acquire(ctx, "live")
	must(t, err)
	defer l.Release()
	_, err = c.GC(ctx, nil, 0)
	must(t, err)
	var keys []string
	rows, err := c.db.Query(`SELECT key FROM leases ORDER BY key`)
	must(t, err)
	for rows.Next() {
		var k string
		must(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	rows.Close()
	if fmt.Sprint(keys) != "[live]" {
		t.Errorf("lease rows after GC = %v, want [live]", keys)
	}
}

var _ = errors.Is

// Item 12: the garbage a crash leaves behind, and who removes it, as
// doc.go states it: Open removes the scratch folders of dead processes; GC
// removes those, unregistered blob files and the lease rows of dead
// processes.
func TestCrashGarbageIsRemovedWhereDocumented(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	stray := "never registered"
	strayPath := c.BlobPath(sha(stray))
	must(t, os.MkdirAll(filepath.Dir(strayPath), 0o755))
	must(t, os.WriteFile(strayPath, []byte(stray), 0o444))
	deadTmp := filepath.Join(dir, "tmp", fmt.Sprintf("p%d-7-x", deadPID(t)))
	must(t, os.MkdirAll(deadTmp, 0o755))
	insertLease(t, c, "dead", c.self.host, deadPID(t), 7, time.Now().Add(time.Hour))

	c2 := openT(t, dir, Options{})
	if _, err := os.Stat(deadTmp); err == nil {
		t.Errorf("Open left the scratch folder of a dead process")
	}
	if _, err := os.Stat(strayPath); err != nil {
		t.Errorf("Open removed an unregistered blob file (%v); only GC does", err)
	}
	r, err := c2.GC(ctx, nil, 0)
	must(t, err)
	if _, err := os.Stat(strayPath); err == nil || r.Blobs != 1 {
		t.Errorf("GC = %+v and left the unregistered blob file", r)
	}
	if st, _ := c2.Stats(ctx); st.Leases != 0 {
		t.Errorf("GC = %+v, %d lease rows left; want the dead process's lease removed", r, st.Leases)
	}
}
