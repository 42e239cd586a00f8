package remote_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"dagrun/cache"
	"dagrun/remote"
	"dagrun/remote/remotetest"
)

// manyEntries commits n entries to c; they share some blobs (every entry
// has "shared" and "a.txt" = "alpha"; odd ones an executable copy of it
// too), so batches must fetch a blob once and lay it out several times.
func manyEntries(t *testing.T, c *cache.Cache, n int) []*cache.Entry {
	var out []*cache.Entry
	for i := 0; i < n; i++ {
		f := map[string]string{"a.txt": "alpha", "shared": "same in all", fmt.Sprintf("own%d", i): strings.Repeat(fmt.Sprint(i), 1000+i)}
		if i%2 == 1 {
			f["run.sh"] = "!#!/bin/sh\n"
			f["copy.txt"] = "alpha"
		}
		out = append(out, commit(t, c, fmt.Sprintf("key%02d", i), f))
	}
	return out
}

// distinctBlobs counts the distinct digests (files and logs) of entries.
func distinctBlobs(ents []*cache.Entry) int {
	seen := map[string]bool{}
	for _, e := range ents {
		for _, f := range e.Manifest {
			seen[f.Digest] = true
		}
		if e.LogDigest != "" {
			seen[e.LogDigest] = true
		}
	}
	return len(seen)
}

// PushMany and FetchMany move a batch in parallel with at most two
// requests per object on push and one on pull; a corrupt blob refuses the
// entries that name it and no other; what is fetched equals what was
// pushed, file by file.
func TestPushManyFetchMany(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	store := &remotetest.Counting{Store: &remote.FileStore{Root: root}}
	a := openCache(t)
	ents := manyEntries(t, a, 20)
	objects := len(ents) + distinctBlobs(ents)
	var pushed []string
	push := &remote.Tier{Store: store, Cache: a, Jobs: 4, Required: true, Progress: func(k string) { pushed = append(pushed, k) }}
	n, err := push.PushMany(ctx, ents)
	if err != nil || n != len(ents) || len(pushed) != len(ents) {
		t.Fatalf("PushMany = %d, %v (progress %d calls); want %d", n, err, len(pushed), len(ents))
	}
	if got := store.Requests(); got > 2*objects {
		t.Errorf("push requests = %d, want <= %d", got, 2*objects)
	}
	if m := push.Moved(); m.Entries != int64(len(ents)) || m.Blobs != int64(distinctBlobs(ents)) || m.Requests != int64(store.Requests()) {
		t.Errorf("push moved %+v; want %d entries, %d blobs, %d requests", m, len(ents), distinctBlobs(ents), store.Requests())
	}

	keys := make([]string, len(ents))
	for i, e := range ents {
		keys[i] = e.Key
	}
	keys = append(keys, "missing")
	b := openCache(t)
	before := store.Requests()
	pull := &remote.Tier{Store: store, Cache: b, Jobs: 4, Required: true}
	got, err := pull.FetchMany(ctx, keys)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.Requests() - before; n > objects+1 {
		t.Errorf("pull requests = %d, want <= %d (one per object, one for the missing key)", n, objects+1)
	}
	for i, e := range ents {
		if got[i] == nil || got[i].Digest != e.Digest {
			t.Fatalf("key %s: fetched %v", e.Key, got[i])
		}
		local, err := b.Get(ctx, e.Key)
		if err != nil || local == nil {
			t.Fatalf("key %s not local: %v", e.Key, err)
		}
		dir := t.TempDir()
		if err := b.Materialize(local.Manifest, dir); err != nil {
			t.Fatal(err)
		}
		for _, f := range e.Manifest {
			fi, err := os.Stat(dir + "/" + f.Path)
			if err != nil || fi.Size() != f.Size || (fi.Mode()&0o100 != 0) != f.Exec {
				t.Errorf("key %s file %s: %v, %v", e.Key, f.Path, fi, err)
			}
		}
	}
	if got[len(ents)] != nil {
		t.Error("a missing key was fetched")
	}
	st, err := b.Stats(ctx)
	if err != nil || st.RemoteHits != int64(len(ents)) {
		t.Errorf("remote hits %d, %v; want %d", st.RemoteHits, err, len(ents))
	}
	if p, err := b.Verify(ctx); err != nil || len(p) != 0 {
		t.Errorf("cache verify after a batch pull: %v, %v", p, err)
	}

	// Flip a byte of entry 3's own blob: entry 3 is refused, the rest are
	// fetched.
	var own string
	for _, f := range ents[3].Manifest {
		if f.Path == "own3" {
			own = f.Digest
		}
	}
	body := strings.Repeat("3", 1003)
	if err := store.Put(ctx, "blobs/"+own[:2]+"/"+own[2:], strings.NewReader("4"+body[1:]), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	log, buf := logBuf()
	c := openCache(t)
	got, err = (&remote.Tier{Store: store, Cache: c, Log: log, Jobs: 3}).FetchMany(ctx, keys[:len(ents)])
	if err != nil {
		t.Fatal(err)
	}
	for i := range ents {
		if (got[i] == nil) != (i == 3) {
			t.Errorf("entry %d fetched = %v after corrupting entry 3's blob", i, got[i] != nil)
		}
	}
	if !strings.Contains(buf.String(), own) || !strings.Contains(buf.String(), "key03") {
		t.Errorf("the warning does not name the key and digest: %s", buf)
	}
}

// A push cut while its blobs go up writes no entry at all, whatever the
// order the workers reached.
func TestPushManyCutWritesNoEntry(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	ents := manyEntries(t, a, 10)
	for _, cut := range []int{1, 5, distinctBlobs(ents) - 1} {
		root := t.TempDir()
		store := &remotetest.Counting{Store: &remote.FileStore{Root: root}, FailAfterPuts: cut}
		if _, err := (&remote.Tier{Store: store, Cache: a, Jobs: 4, Required: true}).PushMany(ctx, ents); err == nil {
			t.Fatalf("cut after %d puts: PushMany succeeded", cut)
		}
		for _, e := range ents {
			if has, _ := (&remote.FileStore{Root: root}).Has(ctx, "entries/"+e.Key); has {
				t.Errorf("cut after %d puts: entry %s written before every blob was", cut, e.Key)
			}
		}
	}
}

// Two entries that give one blob different sizes: the later one is refused
// with a warning, the first is fetched, and the remote is not given up.
func TestFetchManySizeConflict(t *testing.T) {
	ctx := context.Background()
	store := &remote.FileStore{Root: t.TempDir()}
	a := openCache(t)
	good := commit(t, a, "good", map[string]string{"x": "payload"})
	if err := (&remote.Tier{Store: store, Cache: a, Required: true}).Push(ctx, good); err != nil {
		t.Fatal(err)
	}
	// "bad" names a blob of its own ("z", on the remote) and x's blob with
	// another size.
	d := good.Manifest[0].Digest
	sum := sha256.Sum256([]byte("z"))
	z := hex.EncodeToString(sum[:])
	if err := store.Put(ctx, "blobs/"+z[:2]+"/"+z[2:], strings.NewReader("z"), 1); err != nil {
		t.Fatal(err)
	}
	entry := fmt.Sprintf(`{"format":"dagrun-remote-entry-v1","key":"bad","manifest":[{"path":"a","digest":"%s","size":1},{"path":"b","digest":"%s","size":3}],"kind":"k","version":1,"params":"{}","inputs":"{}","extra":"","duration_ns":0,"metrics":{},"inputs_checked":true}`,
		z, d)
	if err := store.Put(ctx, "entries/bad", strings.NewReader(entry), int64(len(entry))); err != nil {
		t.Fatal(err)
	}
	log, buf := logBuf()
	tier := &remote.Tier{Store: store, Cache: openCache(t), Log: log}
	got, err := tier.FetchMany(ctx, []string{"good", "bad"})
	if err != nil || got[0] == nil || got[1] != nil {
		t.Fatalf("FetchMany = %v, %v; want good fetched and bad refused", got, err)
	}
	if tier.Down() != nil || !strings.Contains(buf.String(), "different sizes") {
		t.Errorf("down = %v; log %s", tier.Down(), buf)
	}
}

// gauge is a Store that records the most Gets open at once (from the call
// to the Close of the body).
type gauge struct {
	remote.Store
	open, most atomic.Int64
}

func (g *gauge) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	n := g.open.Add(1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	r, err := g.Store.Get(ctx, name)
	if err != nil {
		g.open.Add(-1)
		return nil, err
	}
	return &gaugeBody{ReadCloser: r, g: g}, nil
}

type gaugeBody struct {
	io.ReadCloser
	g    *gauge
	once sync.Once
}

func (b *gaugeBody) Close() error {
	b.once.Do(func() { b.g.open.Add(-1) })
	return b.ReadCloser.Close()
}

// An ImportRun fed in batches, the way a pull feeds it level by level
// while it looks the next level up, downloads each distinct blob once
// across batches, never has more than Jobs requests open (its downloads
// and the lookups together), reports each entry to Progress once, and
// registers every entry at Finish, in the order they were added.
func TestImportRunInBatches(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	ents := manyEntries(t, a, 12)
	g := &gauge{Store: &remotetest.Counting{Store: &remote.FileStore{Root: t.TempDir()}}}
	if _, err := (&remote.Tier{Store: g, Cache: a, Required: true}).PushMany(ctx, ents); err != nil {
		t.Fatal(err)
	}
	const jobs = 3
	reported := map[string]int{}
	pull := &remote.Tier{Store: g, Cache: openCache(t), Jobs: jobs, Required: true, Progress: func(k string) { reported[k]++ }}
	run, err := pull.StartImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for start := 0; start < len(ents); start += 4 {
		var keys []string
		for _, e := range ents[start : start+4] {
			keys = append(keys, e.Key)
		}
		found, err := pull.Lookup(ctx, keys)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range found {
			if f == nil || f.Entry().Digest != ents[start+i].Digest {
				t.Fatalf("Lookup(%s) = %v", keys[i], f)
			}
		}
		run.Add(found)
	}
	got, err := run.Finish()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range ents {
		if got[i] == nil || got[i].Key != e.Key || got[i].Digest != e.Digest {
			t.Fatalf("entry %d: got %v, want %s", i, got[i], e.Key)
		}
	}
	if m := pull.Moved(); m.Blobs != int64(distinctBlobs(ents)) || m.Requests != int64(len(ents)+distinctBlobs(ents)) {
		t.Errorf("moved %+v; want %d blobs in %d requests", m, distinctBlobs(ents), len(ents)+distinctBlobs(ents))
	}
	for _, e := range ents {
		if reported[e.Key] != 1 {
			t.Errorf("entry %s reported to Progress %d times, want once", e.Key, reported[e.Key])
		}
	}
	if m := pull.Moved(); m.Entries != int64(len(ents)) {
		t.Errorf("moved %d entries, want %d", m.Entries, len(ents))
	}
	if m := g.most.Load(); m > jobs {
		t.Errorf("%d requests open at once, want at most %d", m, jobs)
	}
	if p, err := pull.Cache.Verify(ctx); err != nil || len(p) != 0 {
		t.Errorf("verify: %v, %v", p, err)
	}
}

// recorder records the names a Store is asked to Get, in order.
type recorder struct {
	remote.Store
	mu   sync.Mutex
	gets []string
}

func (r *recorder) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	r.mu.Lock()
	r.gets = append(r.gets, name)
	r.mu.Unlock()
	return r.Store.Get(ctx, name)
}

// An ImportRun downloads the largest blob first: with one request at a
// time, the blobs of an entry (its log included) come largest to
// smallest, whatever their order in the manifest.
func TestImportRunLargestFirst(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	e := commit(t, a, "key", map[string]string{"a_small": "s", "b_mid": strings.Repeat("m", 500), "c_big": strings.Repeat("b", 5000)})
	rec := &recorder{Store: &remote.FileStore{Root: t.TempDir()}}
	if _, err := (&remote.Tier{Store: rec, Cache: a, Required: true}).PushMany(ctx, []*cache.Entry{e}); err != nil {
		t.Fatal(err)
	}
	pull := &remote.Tier{Store: rec, Cache: openCache(t), Jobs: 1, Required: true}
	found, err := pull.Lookup(ctx, []string{e.Key})
	if err != nil || found[0] == nil {
		t.Fatalf("Lookup = %v, %v", found, err)
	}
	rec.gets = nil
	run, err := pull.StartImport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	run.Add(found)
	got, err := run.Finish()
	if err != nil || got[0] == nil {
		t.Fatalf("Finish = %v, %v", got, err)
	}
	byPath := map[string]string{}
	for _, f := range e.Manifest {
		byPath[f.Path] = "blobs/" + f.Digest[:2] + "/" + f.Digest[2:]
	}
	// The log ("a log\n", 6 bytes) comes between "b_mid" and "a_small".
	log := "blobs/" + e.LogDigest[:2] + "/" + e.LogDigest[2:]
	if want := []string{byPath["c_big"], byPath["b_mid"], log, byPath["a_small"]}; !slices.Equal(rec.gets, want) {
		t.Errorf("downloaded %q, want largest first %q", rec.gets, want)
	}
}
