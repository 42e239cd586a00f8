package remote

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
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
	// Progress, when set, is called with the key of every entry pushed,
	// or fetched (once its blobs are all downloaded and checked, before it
	// is registered), one call at a time.
	Progress func(key string)

	mu   sync.Mutex
	down error // the failure that made the tier give up

	semOnce sync.Once
	sem     *slots // Jobs slots (slot)

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
	t.progress(key)
}

func (t *Tier) progress(key string) {
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
// goroutines, all joined before it returns, each call holding a slot
// (urgent: see slot). The first error cancels the others' context and is
// returned.
func (t *Tier) parallel(ctx context.Context, n int, urgent bool, fn func(ctx context.Context, i int) error) error {
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
				if err := t.slot(ctx, urgent, func() error { return fn(ctx, i) }); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// slot runs fn holding one of the tier's Jobs slots, so that what runs at
// once (a pull's lookups and downloads) never exceeds Jobs requests in
// flight. An urgent caller (an entry lookup) gets the next free slot
// before the others (blob downloads): a pull learns the keys of a level
// from the entries of the level before, so its walk would otherwise wait
// behind the downloads already queued.
func (t *Tier) slot(ctx context.Context, urgent bool, fn func() error) error {
	t.semOnce.Do(func() { t.sem = newSlots(t.jobs()) })
	if err := t.sem.acquire(ctx, urgent); err != nil {
		return err
	}
	defer t.sem.release()
	return fn()
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
// logged with the key and the reason. Its blobs are fetched in parallel
// and fsynced one by one (cache.NewImporter with perFile: a run fetches
// one entry at a time, and a sync of the whole file system would also
// wait for whatever else is being written there).
func (t *Tier) Fetch(ctx context.Context, key string) (*cache.Entry, error) {
	found, err := t.Lookup(ctx, []string{key})
	if err != nil || found[0] == nil {
		return nil, err
	}
	got, err := t.fetch(ctx, found, true)
	if err != nil {
		return nil, err
	}
	return got[0], nil
}

// FetchMany is Fetch for many keys at once: Lookup, then Import.
// got[i] is the entry of keys[i], or nil for a miss or a refused entry.
func (t *Tier) FetchMany(ctx context.Context, keys []string) (got []*cache.Entry, err error) {
	found, err := t.Lookup(ctx, keys)
	if err != nil {
		return make([]*cache.Entry, len(keys)), err
	}
	return t.Import(ctx, found)
}

// Found is an entry the remote holds, checked (it decodes, names its key,
// carries a valid signature of a trusted key when Trust is set, and its
// manifest and record are valid) but whose blobs are not fetched yet.
type Found struct {
	e     *Entry
	entry *cache.Entry
}

// Entry returns what the local cache will hold once f is imported: key,
// manifest and output digest, record, log digest. It is registered
// nowhere, and the remote's claims in it are checked only by Import; a
// pull uses it to learn the keys of the nodes downstream before fetching
// any blob (a key depends on its inputs' output digests, not on their
// bytes).
func (f *Found) Entry() *cache.Entry { return f.entry }

// Lookup gets and checks the entries of keys, by at most Jobs requests in
// flight, without fetching a blob. found[i] is nil for a miss or a refused
// entry (logged). An error is a failure of the remote (returned only when
// Required; otherwise the tier goes local-only) or the caller's
// cancellation.
func (t *Tier) Lookup(ctx context.Context, keys []string) (found []*Found, err error) {
	found = make([]*Found, len(keys))
	if t.Down() != nil {
		if t.Required {
			return found, t.Down()
		}
		return found, nil
	}
	err = t.parallel(ctx, len(keys), true, func(ctx context.Context, i int) error {
		e, err := t.getEntry(ctx, keys[i])
		if e != nil {
			rec, _ := e.record() // checked by getEntry
			m := e.manifest()
			found[i] = &Found{e: e, entry: &cache.Entry{Key: e.Key, Digest: m.Digest(), Manifest: m, Record: rec,
				LogDigest: e.LogDigest, LogSize: e.LogSize}}
		}
		return err
	})
	if err != nil {
		return found, t.failed(ctx, err)
	}
	return found, nil
}

// Import fetches the blobs of found entries and registers the entries in
// the local cache: StartImport, Add, Finish. got[i] is the registered
// entry of found[i], or nil (found[i] nil, or refused with a warning
// naming the key and the digest).
func (t *Tier) Import(ctx context.Context, found []*Found) (got []*cache.Entry, err error) {
	return t.fetch(ctx, found, false)
}

func (t *Tier) fetch(ctx context.Context, found []*Found, perFile bool) ([]*cache.Entry, error) {
	if !slices.ContainsFunc(found, func(f *Found) bool { return f != nil }) {
		return make([]*cache.Entry, len(found)), nil
	}
	p, err := t.startImport(ctx, perFile)
	if err != nil {
		return make([]*cache.Entry, len(found)), err
	}
	p.Add(found)
	return p.Finish()
}

// An ImportRun fetches the blobs of found entries while more are being
// looked up, the way `dagrun remote pull` moves a whole spec: Add queues
// the distinct blobs of the entries it is given, and at most Jobs requests
// (shared with Lookup) download them straight into the cache
// (cache.Importer.WriteBlob, which hashes the bytes as it writes them and
// keeps only a blob that has its size and digest); Finish waits for them,
// then registers every entry whose blobs were all kept, with one sync pass
// and one transaction (cache.Importer.Register). Finish must be called; it
// joins every goroutine StartImport started.
type ImportRun struct {
	t      *Tier
	parent context.Context // the caller's
	ctx    context.Context // cancelled by the first failure
	im     *cache.Importer

	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.Mutex
	more   *sync.Cond
	queue  []*pullBlob
	closed bool
	err    error // the first failure of a download
	found  []*Found
	ok     []bool // found[i] is not refused yet
	blobs  map[string]*pullBlob
	// left[i] counts the blobs of found[i] not kept yet; waiting names
	// the entries waiting for a blob. An entry is reported to Progress
	// when its last blob is kept (and counted in Moved once registered).
	left    []int
	waiting map[string][]int
}

// pullBlob is one distinct blob of an ImportRun.
type pullBlob struct {
	digest string
	size   int64
	done   bool  // downloaded, or given up
	bad    error // why it was not kept (nil: kept, once done)
}

// StartImport starts an ImportRun. Without error, Finish must be called.
func (t *Tier) StartImport(ctx context.Context) (*ImportRun, error) {
	return t.startImport(ctx, false)
}

func (t *Tier) startImport(ctx context.Context, perFile bool) (*ImportRun, error) {
	im, err := t.Cache.NewImporter(perFile)
	if err != nil {
		return nil, err
	}
	cctx, stop := context.WithCancel(ctx)
	p := &ImportRun{t: t, parent: ctx, ctx: cctx, im: im, stop: stop, blobs: map[string]*pullBlob{}, waiting: map[string][]int{}}
	p.more = sync.NewCond(&p.mu)
	for w := 0; w < t.jobs(); w++ {
		p.wg.Add(1)
		go p.work()
	}
	return p, nil
}

// Add queues the blobs of found (nil elements are skipped) that no entry
// added before names; the queue is kept largest first. An entry that gives a blob another size than an
// earlier one does is refused.
func (p *ImportRun) Add(found []*Found) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range found {
		i := len(p.found)
		p.found = append(p.found, f)
		p.ok = append(p.ok, f != nil)
		p.left = append(p.left, 0)
		if f == nil {
			continue
		}
		files := f.entry.Manifest
		if f.e.LogDigest != "" {
			files = append(slices.Clone(files), cache.File{Digest: f.e.LogDigest, Size: f.e.LogSize})
		}
		var need []*pullBlob
		for _, bf := range files {
			b, seen := p.blobs[bf.Digest]
			if !seen {
				b = &pullBlob{digest: bf.Digest, size: bf.Size}
				p.blobs[bf.Digest] = b
				p.queue = append(p.queue, b)
			} else if b.size != bf.Size {
				p.t.refuse(f.e.Key, "two entries give one blob different sizes", "digest", bf.Digest)
				p.ok[i] = false
				break
			}
			if !slices.Contains(need, b) {
				need = append(need, b)
			}
		}
		if !p.ok[i] {
			continue
		}
		for _, b := range need {
			if !b.done || b.bad != nil {
				p.left[i]++
				p.waiting[b.digest] = append(p.waiting[b.digest], i)
			}
		}
		if p.left[i] == 0 {
			p.t.progress(f.e.Key)
		}
	}
	// Largest first: the few large blobs (datasets, weights) start at
	// once and the many small ones fill the slots around them, so no large
	// download is left alone at the end.
	slices.SortStableFunc(p.queue, func(a, b *pullBlob) int { return cmp.Compare(b.size, a.size) })
	p.more.Broadcast()
}

// work downloads queued blobs until the run is finished and the queue
// empty, or a download fails.
func (p *ImportRun) work() {
	defer p.wg.Done()
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed && p.err == nil {
			p.more.Wait()
		}
		if len(p.queue) == 0 || p.err != nil {
			p.mu.Unlock()
			return
		}
		b := p.queue[0]
		p.queue = p.queue[1:]
		p.mu.Unlock()

		var bad error
		err := p.t.slot(p.ctx, false, func() error {
			var err error
			bad, err = p.t.fetchBlob(p.ctx, p.im, b.digest, b.size)
			return err
		})
		p.mu.Lock()
		b.done, b.bad = true, bad
		if err == nil && bad == nil {
			for _, i := range p.waiting[b.digest] {
				if p.left[i]--; p.left[i] == 0 && p.ok[i] {
					p.t.progress(p.found[i].e.Key)
				}
			}
		}
		delete(p.waiting, b.digest)
		if err != nil && p.err == nil {
			p.err = fmt.Errorf("get blob %s: %w", b.digest, err)
			p.stop()
			p.more.Broadcast()
		}
		p.mu.Unlock()
	}
}

// Finish waits for every blob queued, then registers every entry added
// whose blobs were all kept. got[i] is the registered entry of the i-th
// entry added (nil: nil, or refused with a warning naming the key and the
// digest). A failure of the remote while downloading registers nothing;
// it is returned when Required, and otherwise makes the tier go
// local-only after one warning.
func (p *ImportRun) Finish() (got []*cache.Entry, err error) {
	p.mu.Lock()
	p.closed = true
	p.more.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
	defer p.stop()
	defer p.im.Close()
	t := p.t
	out := make([]*cache.Entry, len(p.found))
	if p.err != nil {
		return out, t.failed(p.parent, p.err)
	}
	var items []cache.ImportItem
	var index []int // items[j] is p.found[index[j]]
	for i, f := range p.found {
		if !p.ok[i] {
			continue
		}
		var bad *pullBlob
		for _, bf := range f.entry.Manifest {
			if b := p.blobs[bf.Digest]; b.bad != nil {
				bad = b
				break
			}
		}
		if b := p.blobs[f.e.LogDigest]; bad == nil && f.e.LogDigest != "" && b.bad != nil {
			bad = b
		}
		if bad != nil {
			t.refuse(f.e.Key, "blob is missing, truncated, too long or corrupt", "digest", bad.digest, "err", bad.bad)
			continue
		}
		items = append(items, cache.ImportItem{Key: f.e.Key, Record: f.entry.Record, Manifest: f.entry.Manifest,
			LogDigest: f.e.LogDigest, LogSize: f.e.LogSize})
		index = append(index, i)
	}
	if len(items) == 0 {
		return out, nil
	}
	res, err := p.im.Register(p.ctx, items)
	if err != nil {
		return out, err
	}
	for j, r := range res {
		i := index[j]
		if r.Err != nil {
			t.refuse(p.found[i].e.Key, "entry does not match its blobs", "err", r.Err)
			continue
		}
		out[i] = r.Entry
		t.entries.Add(1) // reported to Progress when its last blob was kept
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

// fetchBlob downloads blob d of the given size into im, which hashes its
// bytes as it writes them; bad says why it was not kept (missing, the
// wrong size, bytes that do not hash to d), nil when it was. A blob the
// local cache already holds is copied from there, through the same check,
// without a request.
func (t *Tier) fetchBlob(ctx context.Context, im *cache.Importer, d string, size int64) (bad, err error) {
	if r, n, err := t.Cache.OpenBlob(d); err == nil {
		if n == size {
			err = im.WriteBlob(ctx, d, size, r)
		}
		r.Close()
		if n == size && err == nil {
			return nil, nil
		}
	}
	rctx, cancel := t.reqCtx(ctx)
	defer cancel()
	r, err := t.get(rctx, blobName(d))
	if errors.Is(err, ErrNotExist) {
		return ErrNotExist, nil
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	err = im.WriteBlob(rctx, d, size, r)
	if errors.Is(err, cache.ErrBadOutput) {
		return err, nil
	}
	if err != nil {
		return nil, err
	}
	t.blobs.Add(1)
	t.bytes.Add(size)
	return nil, nil
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
	err := t.parallel(ctx, len(digests), false, func(ctx context.Context, i int) error {
		if err := t.pushBlob(ctx, digests[i]); err != nil {
			return fmt.Errorf("put blob %s: %w", digests[i], err)
		}
		return nil
	})
	if err != nil {
		return 0, t.failed(ctx, err)
	}
	var n atomic.Int64
	err = t.parallel(ctx, len(entries), false, func(ctx context.Context, i int) error {
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
