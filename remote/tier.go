package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"dagrun/cache"
)

// Tier joins a local cache and a remote Store.
type Tier struct {
	Store Store
	Cache *cache.Cache
	Log   *slog.Logger
	// ReadOnly fetches but never writes (untrusted jobs).
	ReadOnly bool
	// Required returns remote failures instead of going local-only.
	Required bool
	// Sign, when set, signs every pushed entry.
	Sign *SignKey
	// Trust, when not empty, makes entries without a valid signature of one
	// of these keys misses.
	Trust []*TrustKey
	// Timeout bounds every request (0: one minute).
	Timeout time.Duration
	// Jobs bounds the requests in flight (0: DefaultJobs).
	Jobs int
	// Progress, when set, is called with the key of every entry fetched or
	// pushed, one call at a time.
	Progress func(key string)

	mu   sync.Mutex
	down error // the failure that made the tier give up

	progMu                   sync.Mutex
	entries, blobs, requests atomic.Int64
	bytes                    atomic.Int64
}

// DefaultJobs is how many requests a tier keeps in flight by default:
// enough to hide a loopback or LAN round trip behind the others, few
// enough that a small server is not flooded.
const DefaultJobs = 8

// Moved counts what a tier moved: entries fetched or pushed, blobs
// downloaded or uploaded (not those the other side had) and their bytes,
// and the requests sent to the store.
type Moved struct {
	Entries, Blobs, Requests int64
	Bytes                    int64
}

// Moved returns the counts so far.
func (t *Tier) Moved() Moved {
	return Moved{Entries: t.entries.Load(), Blobs: t.blobs.Load(), Requests: t.requests.Load(), Bytes: t.bytes.Load()}
}

func (t *Tier) done(key string) {
	t.entries.Add(1)
	if t.Progress != nil {
		t.progMu.Lock()
		defer t.progMu.Unlock()
		t.Progress(key)
	}
}

func (t *Tier) jobs() int {
	if t.Jobs > 0 {
		return t.Jobs
	}
	return DefaultJobs
}

// parallel runs fn(ctx, i) for every i in [0, n) on at most Jobs
// goroutines, all joined before it returns. The first error cancels the
// others' context and is returned.
func (t *Tier) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for w := 0; w < min(t.jobs(), n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// get, put and has count the requests they send.
func (t *Tier) get(ctx context.Context, name string) (io.ReadCloser, error) {
	t.requests.Add(1)
	return t.Store.Get(ctx, name)
}

func (t *Tier) put(ctx context.Context, name string, r io.Reader, size int64) error {
	t.requests.Add(1)
	return t.Store.Put(ctx, name, r, size)
}

func (t *Tier) has(ctx context.Context, name string) (bool, error) {
	t.requests.Add(1)
	return t.Store.Has(ctx, name)
}

// Down returns the failure that made the tier go local-only, or nil.
func (t *Tier) Down() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.down
}

// fault handles a failure of the remote itself (err names the operation):
// the first is logged and the tier gives up for the rest of the process;
// with Required it is returned.
func (t *Tier) fault(err error) error {
	err = fmt.Errorf("remote: %w", err)
	t.mu.Lock()
	first := t.down == nil
	if first {
		t.down = err
	}
	t.mu.Unlock()
	if t.Required {
		return err
	}
	if first {
		t.log().Warn("remote cache unavailable; continuing with the local cache only", "err", err)
	}
	return nil
}

func (t *Tier) log() *slog.Logger {
	if t.Log == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return t.Log
}

func (t *Tier) reqCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	d := t.Timeout
	if d <= 0 {
		d = time.Minute
	}
	return context.WithTimeout(ctx, d)
}

// getAll reads a whole object (for entries, which are small).
func (t *Tier) getAll(ctx context.Context, name string) ([]byte, error) {
	ctx, cancel := t.reqCtx(ctx)
	defer cancel()
	r, err := t.get(ctx, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 64<<20))
}

// Fetch looks key up in the remote and, on a hit whose signature is
// trusted and whose blobs all hash to their digests, registers it in the
// local cache and returns it. A miss, or an entry refused (untrusted, bad
// manifest, corrupt or missing blob), returns nil, nil; a refused one is
// logged with the key and the reason. Its blobs are fetched in parallel;
// the entry is registered with cache.Import (its files fsynced one by one:
// a run fetches one entry at a time, and a sync of the whole file system
// would also wait for whatever else is being written there).
func (t *Tier) Fetch(ctx context.Context, key string) (*cache.Entry, error) {
	got, err := t.fetch(ctx, []string{key}, false)
	if err != nil || got[0] == nil {
		return nil, err
	}
	return got[0], nil
}

// FetchMany is Fetch for many keys at once, the way `dagrun remote pull`
// moves a whole spec: the entries, then every distinct blob they name, are
// fetched by at most Jobs requests in flight, and the accepted entries are
// registered with one cache.ImportBatch (one sync pass, one transaction).
// got[i] is the entry of keys[i], or nil for a miss or a refused entry.
func (t *Tier) FetchMany(ctx context.Context, keys []string) (got []*cache.Entry, err error) {
	return t.fetch(ctx, keys, true)
}

func (t *Tier) fetch(ctx context.Context, keys []string, batch bool) ([]*cache.Entry, error) {
	out := make([]*cache.Entry, len(keys))
	if t.Down() != nil {
		if t.Required {
			return out, t.Down()
		}
		return out, nil
	}
	ents := make([]*Entry, len(keys))
	err := t.parallel(ctx, len(keys), func(ctx context.Context, i int) error {
		e, err := t.getEntry(ctx, keys[i])
		ents[i] = e
		return err
	})
	if err != nil {
		return out, t.failed(ctx, err)
	}

	// Every distinct blob of the accepted entries, once.
	type blob struct {
		digest string
		size   int64
		path   string // where it is downloaded: its first use
		exec   bool   // the first use is executable
		ok     bool
	}
	var blobs []*blob
	byDigest := map[string]*blob{}
	need := func(i int, d string, size int64) bool {
		if b, ok := byDigest[d]; ok {
			if b.size != size {
				t.refuse(keys[i], "two entries give one blob different sizes", "digest", d)
				ents[i] = nil
				return false
			}
			return true
		}
		b := &blob{digest: d, size: size}
		byDigest[d] = b
		blobs = append(blobs, b)
		return true
	}
	for i, e := range ents {
		if e == nil {
			continue
		}
		for _, f := range e.Manifest {
			if !need(i, f.Digest, f.Size) {
				break
			}
		}
		if ents[i] != nil && e.LogDigest != "" {
			need(i, e.LogDigest, e.LogSize)
		}
	}
	if len(blobs) == 0 && !slices.ContainsFunc(ents, func(e *Entry) bool { return e != nil }) {
		return out, nil
	}
	tmp, err := t.Cache.TempDir("pull-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(tmp)

	// Where each entry's files go, and where each blob lands: at its first
	// use, so that it is written once and never moved; later uses copy it.
	// No file has a second name, so the cache adopts each one in place.
	outDir := func(i int) string { return filepath.Join(tmp, "out", strconv.Itoa(i)) }
	logPath := func(i int) string { return filepath.Join(tmp, "log", strconv.Itoa(i)) }
	dirs := map[string]bool{filepath.Join(tmp, "log"): true}
	use := func(i int, d, path string, exec bool) {
		dirs[filepath.Dir(path)] = true
		if b := byDigest[d]; b.path == "" {
			b.path, b.exec = path, exec
		}
	}
	for i, e := range ents {
		if e == nil {
			continue
		}
		dirs[outDir(i)] = true
		for _, f := range e.Manifest {
			use(i, f.Digest, filepath.Join(outDir(i), filepath.FromSlash(f.Path)), f.Exec)
		}
		if e.LogDigest != "" {
			use(i, e.LogDigest, logPath(i), false)
		}
	}
	for d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return out, err
		}
	}
	// Blobs only refused entries named have no place: skip them.
	blobs = slices.DeleteFunc(blobs, func(b *blob) bool { return b.path == "" })
	err = t.parallel(ctx, len(blobs), func(ctx context.Context, i int) error {
		b := blobs[i]
		ok, err := t.fetchBlob(ctx, b.digest, b.size, b.path, b.exec)
		if err != nil {
			return fmt.Errorf("get blob %s: %w", b.digest, err)
		}
		b.ok = ok
		return nil
	})
	if err != nil {
		return out, t.failed(ctx, err)
	}

	place := func(d, dst string, exec bool) error {
		b := byDigest[d]
		if b.path == dst {
			return nil
		}
		mode := os.FileMode(0o644)
		if exec {
			mode = 0o755
		}
		return copyFile(b.path, dst, mode)
	}
	var items []cache.ImportItem
	var index []int // items[j] is keys[index[j]]
	for i, e := range ents {
		if e == nil {
			continue
		}
		bad := ""
		for _, f := range e.Manifest {
			if !byDigest[f.Digest].ok {
				bad = f.Digest
				break
			}
		}
		if e.LogDigest != "" && bad == "" && !byDigest[e.LogDigest].ok {
			bad = e.LogDigest
		}
		if bad != "" {
			t.refuse(keys[i], "blob is missing, truncated or longer than the manifest says", "digest", bad)
			continue
		}
		rec, _ := e.record() // checked by getEntry
		for _, f := range e.Manifest {
			if err := place(f.Digest, filepath.Join(outDir(i), filepath.FromSlash(f.Path)), f.Exec); err != nil {
				return out, err
			}
		}
		if e.LogDigest != "" {
			rec.LogFile = logPath(i)
			if err := place(e.LogDigest, rec.LogFile, false); err != nil {
				return out, err
			}
		}
		items = append(items, cache.ImportItem{Key: keys[i], Dir: outDir(i), Record: rec, Manifest: e.manifest()})
		index = append(index, i)
	}
	if len(items) == 0 {
		return out, nil
	}
	var res []cache.ImportResult
	if batch {
		if res, err = t.Cache.ImportBatch(ctx, items); err != nil {
			return out, err
		}
	} else {
		for _, it := range items {
			ent, err := t.Cache.Import(ctx, it.Key, it.Dir, it.Record, it.Manifest)
			if err != nil && !errors.Is(err, cache.ErrBadOutput) {
				return out, err
			}
			res = append(res, cache.ImportResult{Entry: ent, Err: err})
		}
	}
	for j, r := range res {
		i := index[j]
		if r.Err != nil {
			t.refuse(keys[i], "blob is corrupt: files do not match the manifest", "err", r.Err)
			continue
		}
		out[i] = r.Entry
		t.done(keys[i])
	}
	return out, nil
}

// getEntry reads and checks the entry of key: nil, nil for a miss or a
// refused entry (logged), an error for a failure of the remote.
func (t *Tier) getEntry(ctx context.Context, key string) (*Entry, error) {
	b, err := t.getAll(ctx, entryName(key))
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get entry %s: %w", key, err)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		t.refuse(key, "entry does not decode", "err", err)
		return nil, nil
	}
	if e.Format != entryFormat || e.Key != key {
		t.refuse(key, "entry has the wrong format or key", "format", e.Format, "entry_key", e.Key)
		return nil, nil
	}
	if len(t.Trust) > 0 && !e.trusted(t.Trust) {
		t.refuse(key, "no valid signature by a trusted key")
		return nil, nil
	}
	if err := e.manifest().Validate(); err != nil {
		t.refuse(key, "invalid manifest", "err", err)
		return nil, nil
	}
	if _, err := e.record(); err != nil {
		t.refuse(key, "invalid record", "err", err)
		return nil, nil
	}
	if e.LogDigest != "" && (len(e.LogDigest) != 64 || e.LogSize < 0) {
		t.refuse(key, "invalid log digest")
		return nil, nil
	}
	for _, f := range e.Manifest {
		if f.Size < 0 {
			t.refuse(key, "negative size", "digest", f.Digest)
			return nil, nil
		}
	}
	return &e, nil
}

// refuse logs an entry refused as a miss.
func (t *Tier) refuse(key, why string, args ...any) {
	t.log().Warn("remote: refusing entry; treating it as a miss", append([]any{"key", key, "reason", why}, args...)...)
}

// failed turns an error of parallel into what a fetch or push returns: the
// caller's cancellation as is, anything else a fault of the remote.
func (t *Tier) failed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return t.fault(err)
}

// copyFile copies src to a new file dst with mode perm.
func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}

// fetchBlob downloads blob d to dst (executable when exec); false when it
// is missing or does not have the size the manifest says. Its bytes are
// hashed once, by the cache, which registers nothing whose files do not
// hash to the manifest's digests (cache.Import, cache.ImportBatch). A blob
// the local cache already holds (an earlier level of a pull, another
// entry) is copied from there, without a request.
func (t *Tier) fetchBlob(ctx context.Context, d string, size int64, dst string, exec bool) (bool, error) {
	if r, n, err := t.Cache.OpenBlob(d); err == nil {
		ok := false
		if n == size {
			ok, _, _ = copySized(r, dst, size, exec)
		}
		r.Close()
		if ok {
			return true, nil
		}
	}
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	r, err := t.get(rctx, blobName(d))
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	ok, n, err := copySized(r, dst, size, exec)
	if ok {
		t.blobs.Add(1)
		t.bytes.Add(n)
	}
	return ok, err
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// copySized copies r to a new file dst (executable when exec); false (and
// no dst) when r does not hold exactly size bytes.
func copySized(r io.Reader, dst string, size int64, exec bool) (bool, int64, error) {
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, 0, err
	}
	if exec {
		// Not through OpenFile's mode, which the umask may trim.
		if err := f.Chmod(0o755); err != nil {
			f.Close()
			os.Remove(dst)
			return false, 0, err
		}
	}
	// One byte more than the manifest says, so a longer blob is caught.
	var n int64
	if _, ok := r.(*os.File); ok {
		// File to file: the kernel copies (copy_file_range).
		n, err = io.Copy(f, io.LimitReader(r, size+1))
	} else {
		// From a connection: large reads and writes, fewer system calls
		// than io.Copy's 32 KiB.
		buf := copyBufs.Get().(*[]byte)
		n, err = io.CopyBuffer(struct{ io.Writer }{f}, io.LimitReader(r, size+1), *buf)
		copyBufs.Put(buf)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return false, n, err
	}
	if n != size {
		os.Remove(dst)
		return false, n, nil
	}
	return true, n, nil
}

// Push uploads e's blobs the remote lacks, then e itself (signed when Sign
// is set). It does nothing in ReadOnly mode or once the tier is down.
func (t *Tier) Push(ctx context.Context, e *cache.Entry) error {
	_, err := t.PushMany(ctx, []*cache.Entry{e})
	return err
}

// PushMany pushes entries: first every distinct blob they name that the
// remote lacks, then the entries, each by at most Jobs requests in flight.
// No entry is written before all the blobs of the batch are, so a push cut
// at any point leaves no entry whose blobs are missing. It returns how
// many entries were written.
func (t *Tier) PushMany(ctx context.Context, entries []*cache.Entry) (int, error) {
	if t.ReadOnly || len(entries) == 0 {
		return 0, nil
	}
	if err := t.Down(); err != nil {
		if t.Required {
			return 0, err
		}
		return 0, nil
	}
	seen := map[string]bool{}
	var digests []string
	add := func(d string) {
		if !seen[d] {
			seen[d] = true
			digests = append(digests, d)
		}
	}
	for _, e := range entries {
		for _, f := range e.Manifest {
			add(f.Digest)
		}
		if e.LogDigest != "" {
			add(e.LogDigest)
		}
	}
	err := t.parallel(ctx, len(digests), func(ctx context.Context, i int) error {
		if err := t.pushBlob(ctx, digests[i]); err != nil {
			return fmt.Errorf("put blob %s: %w", digests[i], err)
		}
		return nil
	})
	if err != nil {
		return 0, t.failed(ctx, err)
	}
	var n atomic.Int64
	err = t.parallel(ctx, len(entries), func(ctx context.Context, i int) error {
		e := entries[i]
		re := fromCache(e)
		if t.Sign != nil {
			re.sign(t.Sign)
		}
		b, err := json.Marshal(re)
		if err != nil {
			return err
		}
		rctx, cancel := t.reqCtx(ctx)
		defer cancel()
		if err := t.put(rctx, entryName(e.Key), bytes.NewReader(b), int64(len(b))); err != nil {
			return fmt.Errorf("put entry %s: %w", e.Key, err)
		}
		n.Add(1)
		t.done(e.Key)
		return nil
	})
	if err != nil {
		return int(n.Load()), t.failed(ctx, err)
	}
	return int(n.Load()), nil
}

func (t *Tier) pushBlob(ctx context.Context, d string) error {
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	has, err := t.has(rctx, blobName(d))
	if err != nil || has {
		return err
	}
	r, size, err := t.Cache.OpenBlob(d)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := t.put(rctx, blobName(d), r, size); err != nil {
		return err
	}
	t.blobs.Add(1)
	t.bytes.Add(size)
	return nil
}

// Has reports whether the remote holds an entry for key (without checking
// it: Fetch does).
func (t *Tier) Has(ctx context.Context, key string) (bool, error) {
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	return t.has(rctx, entryName(key))
}
