package remote

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
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

	mu   sync.Mutex
	down error // the failure that made the tier give up
}

// Down returns the failure that made the tier go local-only, or nil.
func (t *Tier) Down() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.down
}

// fault handles a failure of the remote itself: the first is logged and
// the tier gives up for the rest of the process; with Required it is
// returned.
func (t *Tier) fault(op string, err error) error {
	err = fmt.Errorf("remote: %s: %w", op, err)
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
	r, err := t.Store.Get(ctx, name)
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
// logged with the key and the reason.
func (t *Tier) Fetch(ctx context.Context, key string) (*cache.Entry, error) {
	if t.Down() != nil {
		if t.Required {
			return nil, t.Down()
		}
		return nil, nil
	}
	b, err := t.getAll(ctx, entryName(key))
	if errors.Is(err, ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, t.fault("get entry "+key, err)
	}
	var e Entry
	refuse := func(why string, args ...any) (*cache.Entry, error) {
		t.log().Warn("remote: refusing entry; treating it as a miss", append([]any{"key", key, "reason", why}, args...)...)
		return nil, nil
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return refuse("entry does not decode", "err", err)
	}
	if e.Format != entryFormat || e.Key != key {
		return refuse("entry has the wrong format or key", "format", e.Format, "entry_key", e.Key)
	}
	if len(t.Trust) > 0 && !e.trusted(t.Trust) {
		return refuse("no valid signature by a trusted key")
	}
	m := e.manifest()
	if err := m.Validate(); err != nil {
		return refuse("invalid manifest", "err", err)
	}
	rec, err := e.record()
	if err != nil {
		return refuse("invalid record", "err", err)
	}
	if e.LogDigest != "" && (len(e.LogDigest) != 64 || e.LogSize < 0) {
		return refuse("invalid log digest")
	}
	tmp, err := t.Cache.TempDir("pull-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	blobs := filepath.Join(tmp, "blobs")
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for _, f := range m {
		sizes[f.Digest] = f.Size
	}
	if e.LogDigest != "" {
		sizes[e.LogDigest] = e.LogSize
	}
	for d, size := range sizes {
		ok, err := t.fetchBlob(ctx, d, size, filepath.Join(blobs, d))
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, t.fault("get blob "+d, err)
		}
		if !ok {
			return refuse("blob is missing, truncated or corrupt", "digest", d)
		}
	}
	for _, f := range m {
		dst := filepath.Join(out, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.Link(filepath.Join(blobs, f.Digest), dst); err != nil {
			return nil, err
		}
	}
	// Hard links share one mode: a digest used both with and without the
	// execute bit is copied for the executable names.
	for _, f := range m {
		if f.Exec {
			dst := filepath.Join(out, filepath.FromSlash(f.Path))
			if err := copyExec(filepath.Join(blobs, f.Digest), dst); err != nil {
				return nil, err
			}
		}
	}
	if e.LogDigest != "" {
		rec.LogFile = filepath.Join(blobs, e.LogDigest)
	}
	ent, err := t.Cache.Import(ctx, key, out, rec, m)
	if errors.Is(err, cache.ErrBadOutput) {
		return refuse("files do not match the manifest", "err", err)
	}
	return ent, err
}

// copyExec replaces dst by an executable copy of src.
func copyExec(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	os.Remove(dst)
	return os.WriteFile(dst, b, 0o755)
}

// fetchBlob downloads blob d to dst, hashing it as it is written; false
// when it is missing or does not hash to d with the size the manifest says.
func (t *Tier) fetchBlob(ctx context.Context, d string, size int64, dst string) (bool, error) {
	if _, err := os.Stat(dst); err == nil {
		return true, nil
	}
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	r, err := t.Store.Get(rctx, blobName(d))
	if errors.Is(err, ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer r.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return false, err
	}
	h := sha256.New()
	// One byte more than the manifest says, so a longer blob is caught.
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(r, size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		return false, err
	}
	if n != size || hex.EncodeToString(h.Sum(nil)) != d {
		os.Remove(dst)
		return false, nil
	}
	return true, nil
}

// Push uploads e's blobs the remote lacks, then e itself (signed when Sign
// is set). It does nothing in ReadOnly mode or once the tier is down.
func (t *Tier) Push(ctx context.Context, e *cache.Entry) error {
	if t.ReadOnly {
		return nil
	}
	if err := t.Down(); err != nil {
		if t.Required {
			return err
		}
		return nil
	}
	digests := map[string]bool{}
	for _, f := range e.Manifest {
		digests[f.Digest] = true
	}
	if e.LogDigest != "" {
		digests[e.LogDigest] = true
	}
	for d := range digests {
		if err := t.pushBlob(ctx, d); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return t.fault("put blob "+d, err)
		}
	}
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
	if err := t.Store.Put(rctx, entryName(e.Key), bytes.NewReader(b), int64(len(b))); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return t.fault("put entry "+e.Key, err)
	}
	return nil
}

func (t *Tier) pushBlob(ctx context.Context, d string) error {
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	has, err := t.Store.Has(rctx, blobName(d))
	if err != nil || has {
		return err
	}
	r, size, err := t.Cache.OpenBlob(d)
	if err != nil {
		return err
	}
	defer r.Close()
	return t.Store.Put(rctx, blobName(d), r, size)
}

// Has reports whether the remote holds an entry for key (without checking
// it: Fetch does).
func (t *Tier) Has(ctx context.Context, key string) (bool, error) {
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	return t.Store.Has(rctx, entryName(key))
}
