package remote_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"dagrun/cache"
	"dagrun/remote"
	"dagrun/remote/remotetest"
)

func TestFileStoreConformance(t *testing.T) {
	remotetest.Run(t, &remote.FileStore{Root: t.TempDir()})
}

func TestCountingConformance(t *testing.T) {
	remotetest.Run(t, &remotetest.Counting{Store: &remote.FileStore{Root: t.TempDir()}})
}

func openCache(t *testing.T) *cache.Cache {
	t.Helper()
	c, err := cache.Open(t.TempDir(), cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// commit stores files (path -> content; a leading "!" marks an executable)
// as key in c.
func commit(t *testing.T, c *cache.Cache, key string, files map[string]string) *cache.Entry {
	t.Helper()
	dir, err := c.TempDir("test-")
	if err != nil {
		t.Fatal(err)
	}
	for p, body := range files {
		mode := os.FileMode(0o644)
		if strings.HasPrefix(body, "!") {
			mode = 0o755
		}
		f := filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(f), 0o755)
		if err := os.WriteFile(f, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
	}
	e, err := c.Commit(context.Background(), key, dir, cache.Record{Kind: "k", Version: 1, Params: `{}`, Inputs: `{}`,
		Metrics: map[string]float64{"ap": 0.25}, Log: []byte("a log\n"), InputsChecked: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var files = map[string]string{"a.txt": "alpha", "sub/b.bin": "beta", "empty": "", "run.sh": "!#!/bin/sh\n", "dup": "alpha"}

// logBuf captures warnings.
func logBuf() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func TestPushThenFetch(t *testing.T) {
	ctx := context.Background()
	store := &remotetest.Counting{Store: &remote.FileStore{Root: t.TempDir()}}
	a, b := openCache(t), openCache(t)
	e := commit(t, a, "k1", files)
	if err := (&remote.Tier{Store: store, Cache: a}).Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	// entries + blobs: 1 entry, 5 distinct blobs (alpha, beta, "", script, log).
	if got, want := store.Requests(), 2*(1+5); got > want {
		t.Errorf("push requests = %d, want <= %d", got, want)
	}
	before := store.Requests()
	// Pushing again uploads no blob.
	if err := (&remote.Tier{Store: store, Cache: a}).Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	if store.Puts != 7 {
		t.Errorf("puts after two pushes = %d, want 7 (6 then only the entry)", store.Puts)
	}
	before = store.Requests()
	got, err := (&remote.Tier{Store: store, Cache: b}).Fetch(ctx, "k1")
	if err != nil || got == nil {
		t.Fatalf("Fetch = %v, %v", got, err)
	}
	if n := store.Requests() - before; n > 1+5 {
		t.Errorf("fetch requests = %d, want <= 6", n)
	}
	if got.Digest != e.Digest {
		t.Errorf("fetched manifest digest %s, want %s", got.Digest, e.Digest)
	}
	local, err := b.Get(ctx, "k1")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := b.Materialize(local.Manifest, out); err != nil {
		t.Fatal(err)
	}
	for p, body := range files {
		data, err := os.ReadFile(filepath.Join(out, p))
		if err != nil || string(data) != body {
			t.Errorf("%s = %q, %v; want %q", p, data, err, body)
		}
		fi, _ := os.Stat(filepath.Join(out, p))
		if exec := fi != nil && fi.Mode()&0o100 != 0; exec != strings.HasPrefix(body, "!") {
			t.Errorf("%s: exec = %v", p, exec)
		}
	}
	if local.Record.Metrics["ap"] != 0.25 || local.Record.Kind != "k" {
		t.Errorf("record = %+v", local.Record)
	}
	if log, err := b.ReadLog(local); err != nil || string(log) != "a log\n" {
		t.Errorf("log = %q, %v", log, err)
	}
	st, err := b.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.RemoteHits != 1 || st.RemoteBytes != int64(len("alpha")+len("beta")+len("#!/bin/sh\n")+len("!")+len("a log\n")) {
		t.Errorf("remote hits %d bytes %d", st.RemoteHits, st.RemoteBytes)
	}
	// A missing key is a plain miss.
	if got, err := (&remote.Tier{Store: store, Cache: b}).Fetch(ctx, "nope"); got != nil || err != nil {
		t.Errorf("Fetch of a missing key = %v, %v", got, err)
	}
}

func keys(t *testing.T, name string) (*remote.SignKey, *remote.TrustKey) {
	dir := t.TempDir()
	sec, pub, err := remote.Keygen(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := remote.ReadSignKey(sec)
	if err != nil {
		t.Fatal(err)
	}
	p, err := remote.ReadTrustKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.ReadTrustKey(sec); err == nil {
		t.Error("a secret key read as a public key")
	}
	return s, p
}

func TestTrust(t *testing.T) {
	ctx := context.Background()
	ciSign, ciTrust := keys(t, "ci")
	evilSign, _ := keys(t, "ci") // same name, other key
	a := openCache(t)
	e := commit(t, a, "k1", files)
	for _, tc := range []struct {
		name string
		sign *remote.SignKey
		hit  bool
	}{
		{"signed by the trusted key", ciSign, true},
		{"unsigned", nil, false},
		{"signed by an untrusted key of the same name", evilSign, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &remote.FileStore{Root: t.TempDir()}
			if err := (&remote.Tier{Store: store, Cache: a, Sign: tc.sign}).Push(ctx, e); err != nil {
				t.Fatal(err)
			}
			log, buf := logBuf()
			b := openCache(t)
			got, err := (&remote.Tier{Store: store, Cache: b, Trust: []*remote.TrustKey{ciTrust}, Log: log}).Fetch(ctx, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if (got != nil) != tc.hit {
				t.Fatalf("hit = %v, want %v (log: %s)", got != nil, tc.hit, buf)
			}
			if !tc.hit && !strings.Contains(buf.String(), "no valid signature") {
				t.Errorf("no warning: %s", buf)
			}
			if _, err := b.Get(ctx, "k1"); (err == nil) != tc.hit {
				t.Errorf("local entry present = %v", err == nil)
			}
		})
	}
	// A signed entry whose metrics were changed afterwards is refused.
	store := &remote.FileStore{Root: t.TempDir()}
	if err := (&remote.Tier{Store: store, Cache: a, Sign: ciSign}).Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(store.Root, "entries", "k1")
	data, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(data, []byte(`"0.25"`), []byte(`"0.99"`), 1), 0o644)
	got, err := (&remote.Tier{Store: store, Cache: openCache(t), Trust: []*remote.TrustKey{ciTrust}}).Fetch(ctx, "k1")
	if got != nil || err != nil {
		t.Errorf("tampered entry: Fetch = %v, %v; want a miss", got, err)
	}
}

func TestCorruptBlobIsAMiss(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	e := commit(t, a, "k1", files)
	for _, tc := range []struct {
		name   string
		damage func(p string)
	}{
		{"flipped byte", func(p string) { os.WriteFile(p, []byte("beTa"), 0o644) }},
		{"truncated", func(p string) { os.WriteFile(p, []byte("bet"), 0o644) }},
		{"longer", func(p string) { os.WriteFile(p, []byte("betaa"), 0o644) }},
		{"missing", func(p string) { os.Remove(p) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &remote.FileStore{Root: t.TempDir()}
			if err := (&remote.Tier{Store: store, Cache: a}).Push(ctx, e); err != nil {
				t.Fatal(err)
			}
			var d string
			for _, f := range e.Manifest {
				if f.Path == "sub/b.bin" {
					d = f.Digest
				}
			}
			tc.damage(filepath.Join(store.Root, "blobs", d[:2], d[2:]))
			log, buf := logBuf()
			b := openCache(t)
			got, err := (&remote.Tier{Store: store, Cache: b, Log: log}).Fetch(ctx, "k1")
			if got != nil || err != nil {
				t.Fatalf("Fetch = %v, %v; want a miss", got, err)
			}
			if !strings.Contains(buf.String(), d) || !strings.Contains(buf.String(), "k1") {
				t.Errorf("warning does not name the key and digest: %s", buf)
			}
			if _, err := b.Get(ctx, "k1"); err == nil {
				t.Error("a corrupt entry was registered")
			}
		})
	}
}

func TestHostileManifestIsAMiss(t *testing.T) {
	ctx := context.Background()
	store := &remote.FileStore{Root: t.TempDir()}
	entry := `{"format":"dagrun-remote-entry-v1","key":"k1","manifest":[{"path":"../escape","digest":"` +
		strings.Repeat("a", 64) + `","size":1}],"kind":"k","version":1,"params":"{}","inputs":"{}","extra":"","duration_ns":0,"metrics":{},"inputs_checked":true}`
	store.Put(ctx, "entries/k1", strings.NewReader(entry), int64(len(entry)))
	got, err := (&remote.Tier{Store: store, Cache: openCache(t)}).Fetch(ctx, "k1")
	if got != nil || err != nil {
		t.Fatalf("Fetch = %v, %v; want a miss", got, err)
	}
}

// A push interrupted at any request leaves either no entry or an entry whose
// blobs are all there.
func TestInterruptedPushLeavesNoEntry(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	e := commit(t, a, "k1", files)
	for n := 1; n <= 6; n++ {
		root := t.TempDir()
		store := &remotetest.Counting{Store: &remote.FileStore{Root: root}, FailAfterPuts: n}
		tier := &remote.Tier{Store: store, Cache: a, Required: true}
		err := tier.Push(ctx, e)
		if n < 6 && err == nil {
			t.Fatalf("push cut after %d puts succeeded", n)
		}
		got, ferr := (&remote.Tier{Store: &remote.FileStore{Root: root}, Cache: openCache(t)}).Fetch(ctx, "k1")
		if ferr != nil {
			t.Fatal(ferr)
		}
		has, _ := (&remote.FileStore{Root: root}).Has(ctx, "entries/k1")
		if has != (n >= 6) || (got != nil) != has {
			t.Errorf("cut after %d puts: entry visible = %v, fetched = %v", n, has, got != nil)
		}
	}
}

func TestReadOnlyWritesNothing(t *testing.T) {
	ctx := context.Background()
	store := &remotetest.Counting{Store: &remote.FileStore{Root: t.TempDir()}}
	a := openCache(t)
	e := commit(t, a, "k1", files)
	if err := (&remote.Tier{Store: store, Cache: a, ReadOnly: true}).Push(ctx, e); err != nil {
		t.Fatal(err)
	}
	if store.Puts != 0 {
		t.Errorf("read-only push made %d puts", store.Puts)
	}
	ents, _ := os.ReadDir(store.Store.(*remote.FileStore).Root)
	if len(ents) != 0 {
		t.Errorf("read-only push wrote %d objects", len(ents))
	}
}

func TestUnreachable(t *testing.T) {
	ctx := context.Background()
	a := openCache(t)
	e := commit(t, a, "k1", files)
	store := &remotetest.Counting{Store: &remote.FileStore{Root: t.TempDir()}, Down: true}
	log, buf := logBuf()
	tier := &remote.Tier{Store: store, Cache: a, Log: log}
	for i := 0; i < 3; i++ {
		if got, err := tier.Fetch(ctx, "k2"); got != nil || err != nil {
			t.Fatalf("Fetch from a down remote = %v, %v; want a miss", got, err)
		}
		if err := tier.Push(ctx, e); err != nil {
			t.Fatalf("Push to a down remote = %v; want nil", err)
		}
	}
	if n := strings.Count(buf.String(), "remote cache unavailable"); n != 1 {
		t.Errorf("%d warnings, want 1: %s", n, buf)
	}
	if store.Requests() != 1 {
		t.Errorf("%d requests to a down remote, want 1 (then local-only)", store.Requests())
	}
	req := &remote.Tier{Store: store, Cache: a, Required: true}
	if _, err := req.Fetch(ctx, "k2"); err == nil {
		t.Error("Required: Fetch from a down remote succeeded")
	}
	if tier.Down() == nil {
		t.Error("Down() = nil after a failure")
	}
}

// Many jobs pushing the same entry at once leave one good entry.
func TestConcurrentPushers(t *testing.T) {
	ctx := context.Background()
	store := &remote.FileStore{Root: t.TempDir()}
	a := openCache(t)
	e := commit(t, a, "k1", files)
	sign, trust := keys(t, "ci")
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { errs <- (&remote.Tier{Store: store, Cache: a, Sign: sign, Required: true}).Push(ctx, e) }()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := (&remote.Tier{Store: store, Cache: openCache(t), Trust: []*remote.TrustKey{trust}, Required: true}).Fetch(ctx, "k1")
	if err != nil || got == nil || got.Digest != e.Digest {
		t.Fatalf("Fetch after concurrent pushes = %v, %v", got, err)
	}
	var tmp []string
	filepath.Walk(store.Root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasPrefix(fi.Name(), ".tmp-") {
			tmp = append(tmp, p)
		}
		return nil
	})
	if len(tmp) > 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}
