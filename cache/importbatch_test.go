package cache

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// ImportBatch registers the items whose files match their manifests, in one
// pass, refuses the one that does not (registering nothing of it and
// leaving no blob of it behind), and counts the remote hits and bytes of
// the accepted ones only.
func TestImportBatch(t *testing.T) {
	c, _ := newCache(t)
	ctx := context.Background()
	good := Manifest{{Path: "a.txt", Digest: sha("alpha"), Size: 5}, {Path: "bin/run", Digest: sha("#!x"), Size: 3, Exec: true}}
	other := Manifest{{Path: "b.txt", Digest: sha("beta"), Size: 4}}
	lying := Manifest{{Path: "c.txt", Digest: sha("what the remote claims"), Size: 22}}
	items := []ImportItem{
		{Key: "k1", Dir: output(t, c, map[string]string{"a.txt": "alpha", "bin/run*": "#!x"}), Record: Record{Kind: "k", Version: 1}, Manifest: good},
		{Key: "k2", Dir: output(t, c, map[string]string{"c.txt": "something else"}), Record: Record{Kind: "k", Version: 1}, Manifest: lying},
		{Key: "k3", Dir: output(t, c, map[string]string{"b.txt": "beta"}), Record: Record{Kind: "k", Version: 1, Metrics: map[string]float64{"ap": 0.5}}, Manifest: other},
	}
	res, err := c.ImportBatch(ctx, items)
	if err != nil {
		t.Fatalf("ImportBatch: %v", err)
	}
	if res[0].Err != nil || res[2].Err != nil {
		t.Fatalf("good items refused: %v, %v", res[0].Err, res[2].Err)
	}
	if !errors.Is(res[1].Err, ErrBadOutput) || res[1].Entry != nil {
		t.Fatalf("lying item: %v, %v; want ErrBadOutput", res[1].Entry, res[1].Err)
	}
	if msg := res[1].Err.Error(); !strings.Contains(msg, lying[0].Digest) || !strings.Contains(msg, "c.txt") {
		t.Errorf("the refusal does not name the file and the digest it wants: %s", msg)
	}
	for _, k := range []string{"k1", "k3"} {
		e, err := c.Get(ctx, k)
		if err != nil || e == nil {
			t.Fatalf("Get(%s) = %v, %v", k, e, err)
		}
	}
	if e, _ := c.Get(ctx, "k2"); e != nil {
		t.Fatal("the refused item is registered")
	}
	if got := len(objectFiles(t, c)); got != 3 {
		t.Errorf("%d blob files, want 3 (nothing of the refused item)", got)
	}
	// The blobs were moved in, not linked: no other name can write them,
	// and the accepted items' folders are gone.
	for _, p := range objectFiles(t, c) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
			t.Errorf("blob %s has %d names, want 1", p, n)
		}
	}
	for _, i := range []int{0, 2} {
		if _, err := os.Stat(items[i].Dir); !os.IsNotExist(err) {
			t.Errorf("item %d's folder is still there: %v", i, err)
		}
	}
	e, _ := c.Get(ctx, "k1")
	if e.Manifest.Digest() != good.Digest() {
		t.Errorf("k1 manifest %v, want %v", e.Manifest, good)
	}
	s, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.RemoteHits != 2 || s.RemoteBytes != 5+3+4 {
		t.Errorf("remote hits %d, bytes %d; want 2, 12", s.RemoteHits, s.RemoteBytes)
	}
	if m, _ := c.Metrics(ctx, "k3"); m["ap"] != 0.5 {
		t.Errorf("k3 metrics %v", m)
	}
}
