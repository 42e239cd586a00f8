package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// An Importer keeps the blobs whose bytes hash to their digests and have
// their sizes, refuses the others keeping nothing of them, registers the
// items whose blobs were all kept in one pass, refuses the items that lack
// one (naming the file and the digest), and counts the remote hits and
// bytes of the accepted items only.
func TestImporter(t *testing.T) {
	for _, perFile := range []bool{false, true} {
		name := "batch"
		if perFile {
			name = "per-file"
		}
		t.Run(name, func(t *testing.T) {
			c, _ := newCache(t)
			ctx := context.Background()
			fds := openFds(t)
			im, err := c.NewImporter(perFile)
			if err != nil {
				t.Fatal(err)
			}
			write := func(digest string, size int64, content string) error {
				return im.WriteBlob(ctx, digest, size, strings.NewReader(content))
			}
			for _, s := range []string{"alpha", "#!x", "beta", "log line\n"} {
				if err := write(sha(s), int64(len(s)), s); err != nil {
					t.Fatalf("WriteBlob(%q): %v", s, err)
				}
			}
			// Written again: kept once.
			if err := write(sha("alpha"), 5, "alpha"); err != nil {
				t.Fatal(err)
			}
			for _, bad := range []struct {
				digest  string
				size    int64
				content string
				want    string
			}{
				{sha("what the remote claims"), 22, "what the remote CLAIMS", "hash to " + sha("what the remote CLAIMS")},
				{sha("truncated"), 9, "trunc", "5 bytes, want 9"},
				{sha("long"), 4, "longer", "more than 4 bytes"},
			} {
				err := write(bad.digest, bad.size, bad.content)
				if !errors.Is(err, ErrBadOutput) || !strings.Contains(err.Error(), bad.digest) || !strings.Contains(err.Error(), bad.want) {
					t.Errorf("WriteBlob(%q) = %v; want ErrBadOutput naming %s and %q", bad.content, err, bad.digest, bad.want)
				}
			}
			good := Manifest{{Path: "a.txt", Digest: sha("alpha"), Size: 5}, {Path: "bin/run", Digest: sha("#!x"), Size: 3, Exec: true}}
			other := Manifest{{Path: "b.txt", Digest: sha("beta"), Size: 4}, {Path: "copy.txt", Digest: sha("alpha"), Size: 5}}
			lying := Manifest{{Path: "c.txt", Digest: sha("what the remote claims"), Size: 22}}
			items := []ImportItem{
				{Key: "k1", Record: Record{Kind: "k", Version: 1}, Manifest: good, LogDigest: sha("log line\n"), LogSize: 9},
				{Key: "k2", Record: Record{Kind: "k", Version: 1}, Manifest: lying},
				{Key: "k3", Record: Record{Kind: "k", Version: 1, Metrics: map[string]float64{"ap": 0.5}}, Manifest: other},
				{Key: "k4", Record: Record{Kind: "k", Version: 1}, Manifest: Manifest{{Path: "b.txt", Digest: sha("beta"), Size: 5}}},
			}
			res, err := im.Register(ctx, items)
			if err != nil {
				t.Fatalf("Register: %v", err)
			}
			if res[0].Err != nil || res[2].Err != nil {
				t.Fatalf("good items refused: %v, %v", res[0].Err, res[2].Err)
			}
			for i, want := range map[int]string{1: lying[0].Digest, 3: "4 bytes, want 5"} {
				if !errors.Is(res[i].Err, ErrBadOutput) || res[i].Entry != nil {
					t.Fatalf("item %d: %v, %v; want ErrBadOutput", i, res[i].Entry, res[i].Err)
				}
				if msg := res[i].Err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, items[i].Manifest[0].Path) {
					t.Errorf("item %d: the refusal does not name the file and %q: %s", i, want, msg)
				}
			}
			if err := im.Close(); err != nil {
				t.Fatal(err)
			}
			// The writer's descriptors and the flusher's duplicates are
			// all closed.
			if n := openFds(t); n != fds {
				t.Errorf("%d descriptors open after Close, %d before the import", n, fds)
			}
			for _, k := range []string{"k1", "k3"} {
				e, err := c.Get(ctx, k)
				if err != nil || e == nil {
					t.Fatalf("Get(%s) = %v, %v", k, e, err)
				}
			}
			for _, k := range []string{"k2", "k4"} {
				if e, _ := c.Get(ctx, k); e != nil {
					t.Fatalf("the refused item %s is registered", k)
				}
			}
			// alpha, #!x, beta and the log: nothing of the refused blobs.
			if got := len(objectFiles(t, c)); got != 4 {
				t.Errorf("%d blob files, want 4 (nothing of the refused blobs)", got)
			}
			// The blobs were moved in: no other name can write them.
			for _, p := range objectFiles(t, c) {
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 || fi.Mode().Perm() != 0o444 {
					t.Errorf("blob %s has %d names and mode %v, want 1 and 0444", p, n, fi.Mode().Perm())
				}
			}
			e, _ := c.Get(ctx, "k1")
			if e.Manifest.Digest() != good.Digest() || e.LogDigest != sha("log line\n") {
				t.Errorf("k1 manifest %v log %s, want %v", e.Manifest, e.LogDigest, good)
			}
			if b, err := c.ReadLog(e); err != nil || string(b) != "log line\n" {
				t.Errorf("k1 log %q, %v", b, err)
			}
			s, err := c.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.RemoteHits != 2 || s.RemoteBytes != (5+3+9)+(4+5) {
				t.Errorf("remote hits %d, bytes %d; want 2, 26", s.RemoteHits, s.RemoteBytes)
			}
			if m, _ := c.Metrics(ctx, "k3"); m["ap"] != 0.5 {
				t.Errorf("k3 metrics %v", m)
			}
			if probs, err := c.Verify(ctx); err != nil || len(probs) != 0 {
				t.Errorf("Verify: %v, %v", probs, err)
			}
		})
	}
}

// openFds counts this process's open file descriptors.
func openFds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// Blobs of writebackMin bytes or more have their writeback started as
// they are written (every writebackChunk and at the end), smaller ones are
// left to the sync pass, and the flusher syncs early every syncEvery bytes
// it started; what is registered is whole, and every duplicated
// descriptor is closed.
func TestImporterEarlyWriteback(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the writeback is started with sync_file_range, Linux only")
	}
	c, _ := newCache(t)
	ctx := context.Background()
	fds := openFds(t)
	im, err := c.newImporter(false, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	blob := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i>>9)
		}
		return string(b)
	}
	// 8 MiB and then 1 MiB + 1 (two writebacks; a sync after the first),
	// 1 MiB (one writeback), 1 MiB - 1 (none).
	contents := []string{blob(writebackChunk + writebackMin + 1), blob(writebackMin), blob(writebackMin - 1)}
	var m Manifest
	for i, s := range contents {
		if err := im.WriteBlob(ctx, sha(s), int64(len(s)), strings.NewReader(s)); err != nil {
			t.Fatalf("WriteBlob(%d bytes): %v", len(s), err)
		}
		m = append(m, File{Path: fmt.Sprintf("f%d", i), Digest: sha(s), Size: int64(len(s))})
	}
	res, err := im.Register(ctx, []ImportItem{{Key: "k", Record: Record{Kind: "k", Version: 1}, Manifest: m}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("Register: %v, %v", err, res[0].Err)
	}
	if im.flush.writebacks != 3 || im.flush.syncs != 1 {
		t.Errorf("%d writebacks started, %d early syncs; want 3, 1", im.flush.writebacks, im.flush.syncs)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	if n := openFds(t); n != fds {
		t.Errorf("%d descriptors open after Close, %d before the import", n, fds)
	}
	e, err := c.Get(ctx, "k")
	if err != nil || e == nil || e.Manifest.Digest() != m.Digest() {
		t.Fatalf("Get = %v, %v; want the manifest %v", e, err, m)
	}
	if probs, err := c.Verify(ctx); err != nil || len(probs) != 0 {
		t.Errorf("Verify: %v, %v", probs, err)
	}
}
