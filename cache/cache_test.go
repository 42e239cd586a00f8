package cache

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestCommitGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	dir := output(t, c, map[string]string{"a.txt": "alpha", "sub/b.bin": "beta", "sub/run.sh*": "#!/bin/sh\n"})
	rec := Record{
		Kind: "train", Version: 3, Params: `{"lr":0.1}`, Inputs: `{"data":"ab"}`, Extra: `{}`,
		Duration: 1500 * time.Millisecond,
		Metrics:  map[string]float64{"acc": 0.75, "nan": math.NaN(), "inf": math.Inf(1)},
		Log:      []byte("epoch 1\nepoch 2\n"),
	}
	e, err := c.Commit(ctx, "k1", dir, rec)
	if err != nil {
		t.Fatalf("Commit = %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("output folder still there after Commit: %v", err)
	}
	want := Manifest{
		{Path: "a.txt", Digest: sha("alpha"), Size: 5},
		{Path: "sub/b.bin", Digest: sha("beta"), Size: 4},
		{Path: "sub/run.sh", Digest: sha("#!/bin/sh\n"), Size: 10, Exec: true},
	}
	if !slices.Equal(e.Manifest, want) {
		t.Errorf("Commit manifest = %v, want %v", e.Manifest, want)
	}
	if e.Digest != want.Digest() || e.LogDigest != sha(string(rec.Log)) {
		t.Errorf("Commit digest, log digest = %s, %s", e.Digest, e.LogDigest)
	}

	hashed := c.HashedBytes()
	got, err := c.Get(ctx, "k1")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if n := c.HashedBytes() - hashed; n != 0 {
		t.Errorf("Get of an intact entry hashed %d bytes, want 0", n)
	}
	if got.Key != "k1" || got.Digest != e.Digest || !slices.Equal(got.Manifest, want) || got.LogDigest != e.LogDigest {
		t.Errorf("Get = %+v, want %+v", got, e)
	}
	r := got.Record
	if r.Kind != "train" || r.Version != 3 || r.Params != rec.Params || r.Inputs != rec.Inputs || r.Extra != rec.Extra ||
		r.Duration != rec.Duration || r.Log != nil {
		t.Errorf("Get record = %+v", r)
	}
	if r.Metrics["acc"] != 0.75 || !math.IsNaN(r.Metrics["nan"]) || !math.IsInf(r.Metrics["inf"], 1) || len(r.Metrics) != 3 {
		t.Errorf("Get metrics = %v", r.Metrics)
	}
	if !got.Created.Equal(e.Created) {
		t.Errorf("Created = %v, want %v", got.Created, e.Created)
	}
	if m, err := c.Metrics(ctx, "k1"); err != nil || m["acc"] != 0.75 {
		t.Errorf("Metrics = %v, %v", m, err)
	}
	if log, err := c.ReadLog(got); err != nil || string(log) != string(rec.Log) {
		t.Errorf("ReadLog = %q, %v", log, err)
	}

	// Materialize: links, read-only, exec files copied executable.
	dst := t.TempDir()
	if err := c.Materialize(got.Manifest, dst); err != nil {
		t.Fatalf("Materialize = %v", err)
	}
	for _, f := range want {
		p := filepath.Join(dst, filepath.FromSlash(f.Path))
		b, err := os.ReadFile(p)
		if err != nil || sha(string(b)) != f.Digest {
			t.Errorf("materialized %s: %v", f.Path, err)
		}
		fi, _ := os.Stat(p)
		wantMode := fs.FileMode(0o444)
		if f.Exec {
			wantMode = 0o555
		}
		if fi.Mode().Perm() != wantMode {
			t.Errorf("materialized %s mode %v, want %v", f.Path, fi.Mode().Perm(), wantMode)
		}
		bi, _ := os.Stat(c.BlobPath(f.Digest))
		if linked := os.SameFile(fi, bi); linked == f.Exec {
			t.Errorf("materialized %s: hard link = %v, want %v", f.Path, linked, !f.Exec)
		}
	}
	// Sub of a folder and of a single file.
	dst2 := t.TempDir()
	if err := c.Materialize(got.Manifest.Sub("sub"), dst2); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst2, "b.bin")); err != nil || string(b) != "beta" {
		t.Errorf("Materialize(Sub(sub)) b.bin = %q, %v", b, err)
	}
	one := filepath.Join(t.TempDir(), "deep", "alpha.txt")
	if err := c.Materialize(got.Manifest.Sub("a.txt"), one); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(one); err != nil || string(b) != "alpha" {
		t.Errorf("Materialize(Sub(a.txt)) = %q, %v", b, err)
	}
	// Materializing again replaces what is there.
	if err := c.Materialize(got.Manifest, dst); err != nil {
		t.Errorf("second Materialize = %v", err)
	}

	if _, err := c.Get(ctx, "nope"); err != ErrNotFound {
		t.Errorf("Get(absent) = %v, want ErrNotFound", err)
	}
	if _, err := c.Metrics(ctx, "nope"); err != ErrNotFound {
		t.Errorf("Metrics(absent) = %v, want ErrNotFound", err)
	}
	// Uses are counted per run, not per lookup.
	if _, err := c.RecordRun(ctx, "s", []RunNode{{Node: "a", Key: "k1", Status: "cached"}, {Node: "b", Key: "k9", Status: "done"}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Entries != 1 || st.Blobs != 4 || st.Bytes != 5+4+10+int64(len(rec.Log)) || st.Hits != 1 || st.Misses != 1 {
		t.Errorf("Stats = %+v", st)
	}
	ents, err := c.Entries(ctx)
	if err != nil || len(ents) != 1 || ents[0].Key != "k1" || ents[0].Kind != "train" || ents[0].Size != 19 ||
		ents[0].Files != 3 || ents[0].Hits != 1 || ents[0].Digest != e.Digest {
		t.Errorf("Entries = %+v, %v", ents, err)
	}
	if ps, err := c.Verify(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Verify = %v, %v", ps, err)
	}

	// The index survives reopening.
	dirC := c.Dir()
	c.Close()
	c2 := openT(t, dirC, Options{})
	if got2, err := c2.Get(ctx, "k1"); err != nil || got2.Digest != e.Digest {
		t.Errorf("Get after reopen = %v, %v", got2, err)
	}
}

func TestCommitEmptyOutputAndReplace(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	e, err := c.Commit(ctx, "k", output(t, c, nil), Record{Kind: "x"})
	if err != nil || len(e.Manifest) != 0 || e.Digest != Manifest(nil).Digest() || e.LogDigest != "" {
		t.Fatalf("Commit(empty) = %+v, %v", e, err)
	}
	e2, err := c.Commit(ctx, "k", output(t, c, map[string]string{"f": "new"}), Record{Kind: "x"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, "k")
	if err != nil || got.Digest != e2.Digest || len(got.Manifest) != 1 {
		t.Errorf("Get after replacing = %+v, %v", got, err)
	}
}

func TestCommitDedupe(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	for i, key := range []string{"k1", "k2"} {
		files := map[string]string{"same.txt": "shared content", "other": "unique " + key}
		if i == 1 {
			files["copy/of/same"] = "shared content"
		}
		if _, err := c.Commit(ctx, key, output(t, c, files), Record{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(objectFiles(t, c)); got != 3 {
		t.Errorf("%d blob files, want 3 (one per distinct content)", got)
	}
	st, _ := c.Stats(ctx)
	if st.Blobs != 3 || st.Entries != 2 {
		t.Errorf("Stats = %+v, want 3 blobs, 2 entries", st)
	}
	for _, key := range []string{"k1", "k2"} {
		if _, err := c.Get(ctx, key); err != nil {
			t.Errorf("Get(%q) = %v", key, err)
		}
	}
}

func TestCommitRejects(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"symlink", func(t *testing.T, dir string) {
			must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
		}, `output "link" is a symbolic link`},
		{"symlink to folder", func(t *testing.T, dir string) {
			must(t, os.Symlink(dir, filepath.Join(dir, "loop")))
		}, `output "loop" is a symbolic link`},
		{"newline in file name", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "a\nb"), []byte("x"), 0o644))
		}, `output "a\nb": name contains the control character U+000A`},
		{"control character in folder name", func(t *testing.T, dir string) {
			must(t, os.MkdirAll(filepath.Join(dir, "sub", "\x1bx"), 0o755))
			must(t, os.WriteFile(filepath.Join(dir, "sub", "\x1bx", "f"), []byte("x"), 0o644))
		}, `output "sub/\x1bx": name contains the control character U+001B`},
		{"not utf-8", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "bad\xff"), []byte("x"), 0o644))
		}, `output "bad\xff": name is not valid UTF-8`},
		{"fifo", func(t *testing.T, dir string) {
			must(t, unix.Mkfifo(filepath.Join(dir, "pipe"), 0o644))
		}, `output "pipe" is not a regular file`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c, _ := newCache(t)
			dir := output(t, c, map[string]string{"good.txt": "fine"})
			tt.setup(t, dir)
			_, err := c.Commit(ctx, "k", dir, Record{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Commit = %v, want error containing %q", err, tt.want)
			}
			if !errors.Is(err, ErrBadOutput) {
				t.Errorf("error %q does not wrap ErrBadOutput", err)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Dir != c.Dir() || !strings.HasPrefix(err.Error(), `cache "`+c.Dir()+`": commit "k": `) {
				t.Errorf("error %q is not a *Error naming the cache and the operation", err)
			}
			if _, err := c.Get(ctx, "k"); err != ErrNotFound {
				t.Errorf("Get after refused Commit = %v, want ErrNotFound", err)
			}
			if files := objectFiles(t, c); len(files) != 0 {
				t.Errorf("refused Commit left blob files %v", files)
			}
			if st, _ := c.Stats(ctx); st.Entries != 0 || st.Blobs != 0 {
				t.Errorf("refused Commit left %+v", st)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// tamper rewrites the blob holding content with one byte flipped, keeping
// its inode.
func tamper(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	must(t, err)
	b[0] ^= 0x01
	must(t, os.Chmod(path, 0o644))
	must(t, os.WriteFile(path, b, 0o644))
	must(t, os.Chmod(path, 0o444))
}

func TestBadBlobs(t *testing.T) {
	ctx := context.Background()
	const content = "the model weights"
	digest := sha(content)
	tests := []struct {
		name      string
		damage    func(t *testing.T, path string)
		getMisses bool   // Get misses afterwards (Verify evicted it, or Get noticed)
		verify    string // what Verify reports, "" for nothing
	}{
		{"corrupt with new mtime", func(t *testing.T, p string) {
			fi, _ := os.Stat(p)
			tamper(t, p)
			must(t, os.Chtimes(p, time.Now(), fi.ModTime().Add(time.Second)))
		}, true, "blob content is corrupt"},
		{"corrupt with mtime restored", func(t *testing.T, p string) {
			// Only Verify can see it; it evicts the entry.
			fi, _ := os.Stat(p)
			tamper(t, p)
			must(t, os.Chtimes(p, time.Now(), fi.ModTime()))
		}, true, "blob content is corrupt"},
		{"missing", func(t *testing.T, p string) {
			must(t, os.Remove(p))
		}, true, "blob file is missing"},
		{"replaced by a good copy", func(t *testing.T, p string) {
			// A new inode with the right content: re-hashed, then trusted.
			must(t, os.Remove(p))
			must(t, os.WriteFile(p, []byte(content), 0o444))
		}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, logs := newCache(t)
			if _, err := c.Commit(ctx, "key1", output(t, c, map[string]string{"w.bin": content, "ok": "fine"}), Record{}); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, c.BlobPath(digest))

			ps, err := c.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.verify == "" {
				if len(ps) != 0 {
					t.Errorf("Verify = %v, want no problems", ps)
				}
			} else if len(ps) != 1 || ps[0].Key != "key1" || ps[0].Path != "w.bin" || ps[0].Digest != digest ||
				!strings.Contains(ps[0].Msg, tt.verify) {
				t.Errorf("Verify = %v, want one problem %q for key1 w.bin", ps, tt.verify)
			}

			hashed := c.HashedBytes()
			_, err = c.Get(ctx, "key1")
			if tt.getMisses {
				if err != ErrNotFound {
					t.Fatalf("Get = %v, want ErrNotFound", err)
				}
				if l := logs.String(); !strings.Contains(l, "key1") || !strings.Contains(l, digest) || !strings.Contains(l, "WARN") {
					t.Errorf("log %q does not warn naming the key and the blob", l)
				}
				if _, err := c.Get(ctx, "key1"); err != ErrNotFound {
					t.Errorf("second Get = %v, want ErrNotFound (entry dropped)", err)
				}
				// Recomputing stores a good blob again.
				if _, err := c.Commit(ctx, "key1", output(t, c, map[string]string{"w.bin": content, "ok": "fine"}), Record{}); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Get(ctx, "key1"); err != nil {
					t.Errorf("Get after recommit = %v", err)
				}
				if ps, _ := c.Verify(ctx); len(ps) != 0 {
					t.Errorf("Verify after recommit = %v", ps)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get = %v, want the entry", err)
			}
			if strings.Contains(logs.String(), "WARN") {
				t.Errorf("unexpected warning %q", logs.String())
			}
			if tt.name == "replaced by a good copy" {
				if c.HashedBytes()-hashed != int64(len(content)) {
					t.Errorf("Get hashed %d bytes, want %d (the re-statted blob)", c.HashedBytes()-hashed, len(content))
				}
				hashed = c.HashedBytes()
				if _, err := c.Get(ctx, "key1"); err != nil || c.HashedBytes() != hashed {
					t.Errorf("second Get = %v and hashed %d bytes, want the refreshed stat trusted", err, c.HashedBytes()-hashed)
				}
			}
		})
	}
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		is      error
		message string // exact, with DIR for the folder
	}{
		{"foreign file", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "index.db"), []byte(strings.Repeat("not a database at all\n", 40)), 0o644))
		}, ErrNotCache, `cache "DIR": index.db is not a dagrun cache (file is not a database)`},
		{"tiny file", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, "index.db"), []byte("SQLite"), 0o644))
		}, ErrNotCache, ""},
		{"truncated cache", func(t *testing.T, dir string) {
			c, err := Open(dir, Options{})
			must(t, err)
			for i := range 50 {
				d, err := c.TempDir("o")
				must(t, err)
				must(t, os.WriteFile(filepath.Join(d, "f"), []byte(strings.Repeat("x", i)), 0o644))
				_, err = c.Commit(context.Background(), sha(string(rune(i))), d, Record{Params: strings.Repeat("p", 500)})
				must(t, err)
			}
			must(t, c.Close())
			p := filepath.Join(dir, "index.db")
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()/2+100))
		}, ErrNotCache, ""},
		{"cache truncated at a page boundary", func(t *testing.T, dir string) {
			c, err := Open(dir, Options{})
			must(t, err)
			for i := range 50 {
				_, err = c.RecordRun(context.Background(), "spec", []RunNode{{Node: strings.Repeat("n", 1000), Key: sha(string(rune(i)))}})
				must(t, err)
			}
			must(t, c.Close())
			p := filepath.Join(dir, "index.db")
			fi, err := os.Stat(p)
			must(t, err)
			must(t, os.Truncate(p, fi.Size()-4096))
		}, ErrNotCache, ""},
		{"another program's database", func(t *testing.T, dir string) {
			db := rawDB(t, dir)
			_, err := db.Exec(`CREATE TABLE notes (x TEXT)`)
			must(t, err)
			db.Close()
		}, ErrNotCache, `cache "DIR": index.db is not a dagrun cache (another program's SQLite database)`},
		{"another application id", func(t *testing.T, dir string) {
			db := rawDB(t, dir)
			_, err := db.Exec(`PRAGMA application_id = 42`)
			must(t, err)
			db.Close()
		}, ErrNotCache, ""},
		{"newer schema", func(t *testing.T, dir string) {
			c, err := Open(dir, Options{})
			must(t, err)
			must(t, c.Close())
			db := rawDB(t, dir)
			_, err = db.Exec(`PRAGMA user_version = 99`)
			must(t, err)
			db.Close()
		}, nil, `cache "DIR": open index: schema version 99 is newer than this dagrun knows (4); upgrade dagrun`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			before := listDir(t, dir)
			c, err := Open(dir, Options{})
			if err == nil {
				c.Close()
				t.Fatal("Open succeeded")
			}
			t.Logf("Open = %v", err)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("Open error %T is not a *Error", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open = %v, want errors.Is %v", err, tt.is)
			}
			if want := strings.ReplaceAll(tt.message, "DIR", dir); tt.message != "" && err.Error() != want {
				t.Errorf("Open = %q\nwant %q", err, want)
			}
			if tt.is == ErrNotCache {
				if after := listDir(t, dir); !slices.Equal(before, after) {
					t.Errorf("Open changed the folder: %v -> %v", before, after)
				}
			}
		})
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	must(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	c, err := Open(dir, Options{})
	if err == nil {
		c.Close()
		t.Fatal("Open of a read-only folder succeeded")
	}
	if !errors.Is(err, ErrReadOnly) || !strings.HasPrefix(err.Error(), `cache "`+dir+`" is read-only: `) {
		t.Errorf("Open = %q, want a read-only error", err)
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("Open created %v in a read-only folder", names)
	}

	// A read-only index.db in a writable folder is refused too.
	dir2 := t.TempDir()
	c2, err := Open(dir2, Options{})
	must(t, err)
	must(t, c2.Close())
	must(t, os.Chmod(filepath.Join(dir2, "index.db"), 0o444))
	if c3, err := Open(dir2, Options{}); err == nil || !errors.Is(err, ErrReadOnly) {
		if c3 != nil {
			c3.Close()
		}
		t.Errorf("Open with read-only index.db = %v, want ErrReadOnly", err)
	}
}

func TestOpenNotAFolder(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	must(t, os.WriteFile(f, nil, 0o644))
	if c, err := Open(f, Options{}); err == nil || !strings.Contains(err.Error(), "not a folder") {
		if c != nil {
			c.Close()
		}
		t.Errorf("Open(file) = %v", err)
	}
}

func TestTempDirCleanup(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, Options{})
	mine, err := c.TempDir("work-*")
	must(t, err)
	if !strings.HasPrefix(filepath.Base(mine), "p") || filepath.Dir(mine) != filepath.Join(dir, "tmp") {
		t.Errorf("TempDir = %q", mine)
	}
	// A scratch folder of a process that is gone, with a read-only subfolder.
	pid := deadPID(t)
	dead := filepath.Join(dir, "tmp", "p"+strconv.Itoa(pid)+"-12345-work-1")
	must(t, os.MkdirAll(filepath.Join(dead, "ro"), 0o755))
	must(t, os.WriteFile(filepath.Join(dead, "ro", "f"), []byte("junk"), 0o444))
	must(t, os.Chmod(filepath.Join(dead, "ro"), 0o555))
	// Our own pid with another start time: the pid was reused.
	reused := filepath.Join(dir, "tmp", "p"+strconv.Itoa(os.Getpid())+"-1-work-2")
	must(t, os.Mkdir(reused, 0o755))
	other := filepath.Join(dir, "tmp", "unrelated")
	must(t, os.Mkdir(other, 0o755))

	c2 := openT(t, dir, Options{})
	for _, p := range []string{dead, reused} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open left stale %q: %v", p, err)
		}
	}
	for _, p := range []string{mine, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("Open removed %q: %v", p, err)
		}
	}
	if _, err := c2.TempDir("a/b"); err == nil {
		t.Errorf("TempDir with a separator succeeded")
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	var attr syscall.ProcAttr
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &attr)
	must(t, err)
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	must(t, err)
	return pid
}

func TestCommitFromAnotherFileSystem(t *testing.T) {
	ctx := context.Background()
	c, _ := newCache(t)
	var a, b unix.Stat_t
	if unix.Stat("/dev/shm", &a) != nil || unix.Stat(c.Dir(), &b) != nil || a.Dev == b.Dev {
		t.Skip("needs /dev/shm on another file system than the cache")
	}
	dir, err := os.MkdirTemp("/dev/shm", "dagrun-cache-test-")
	must(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	must(t, os.WriteFile(filepath.Join(dir, "f"), []byte("across"), 0o644))
	e, err := c.Commit(ctx, "k", dir, Record{})
	if err != nil {
		t.Fatalf("Commit across file systems = %v", err)
	}
	if _, err := c.Get(ctx, "k"); err != nil {
		t.Errorf("Get = %v", err)
	}
	if b, err := os.ReadFile(c.BlobPath(e.Manifest[0].Digest)); err != nil || string(b) != "across" {
		t.Errorf("blob = %q, %v", b, err)
	}
	// Materialize across file systems copies.
	dst := filepath.Join(dir, "dst")
	must(t, c.Materialize(e.Manifest, dst))
	if b, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(b) != "across" {
		t.Errorf("materialized = %q, %v", b, err)
	}
}

func TestAcquireAfterClose(t *testing.T) {
	c, err := Open(t.TempDir(), Options{})
	must(t, err)
	must(t, c.Close())
	must(t, c.Close())
	if _, err := c.Acquire(context.Background(), "k"); err == nil {
		t.Errorf("Acquire after Close succeeded")
	}
}
