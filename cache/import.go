package cache

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Validate reports the first reason m cannot be an entry's manifest: a path
// Commit would refuse (absolute, with an empty, "." or ".." component, a
// control character, not UTF-8), a path listed twice, a file and a folder of
// the same name, a digest that is not lowercase sha256 hex, or a negative
// size. A manifest read from elsewhere (a remote tier) is validated before
// anything of it is written, so a hostile one is refused, never laid out.
func (m Manifest) Validate() error {
	paths := make([]string, 0, len(m))
	for _, f := range m {
		if err := checkName(f.Path); err != nil {
			return err
		}
		if !validDigest(f.Digest) {
			return fmt.Errorf("file %q: digest %q is not sha256 hex", f.Path, f.Digest)
		}
		if f.Size < 0 {
			return fmt.Errorf("file %q: negative size %d", f.Path, f.Size)
		}
		paths = append(paths, f.Path)
	}
	slices.Sort(paths)
	for i := 1; i < len(paths); i++ {
		if paths[i] == paths[i-1] {
			return fmt.Errorf("file %q is listed twice", paths[i])
		}
		if strings.HasPrefix(paths[i], paths[i-1]+"/") {
			return fmt.Errorf("%q is both a file and a folder", paths[i-1])
		}
	}
	return nil
}

// OpenBlob opens the blob with the given digest for reading. It does not
// hash it: a reader that must trust the bytes checks them itself (a remote
// push sends them under their digest, and every reader of the remote
// verifies them).
func (c *Cache) OpenBlob(digest string) (io.ReadCloser, int64, error) {
	p := c.BlobPath(digest)
	if p == "" {
		return nil, 0, c.wrap("open blob", fmt.Errorf("%q is not a digest", digest))
	}
	f, fi, err := openRegular(p)
	if err != nil {
		return nil, 0, c.wrap(fmt.Sprintf("open blob %s", digest), err)
	}
	return f, fi.Size(), nil
}

// Importer registers entries whose blobs come from elsewhere (a remote
// tier), blob by blob: WriteBlob hashes each blob's bytes as it writes
// them into a scratch folder and keeps the blob only if they are exactly
// its size and hash to its digest, then moves it into the blob store; Register
// registers entries whose every blob was kept, after making the blobs
// durable. Every byte is hashed once, as it is written, and no entry is
// registered whose blobs are not both checked and durable. Blobs kept but
// never registered are garbage (GC removes them), as after a crashed
// Commit. An Importer is safe for concurrent WriteBlob calls; Close
// removes its scratch folder.
type Importer struct {
	c   *Cache
	dir string
	// perFile fsyncs each blob and each touched folder (one entry, while
	// other processes write to the file system) instead of one syncfs(2)
	// of the cache's file system before registering (a batch).
	perFile bool
	seq     atomic.Int64

	mu    sync.Mutex
	blobs map[string]*source // kept blobs by digest
	dirs  map[string]bool    // folders whose links must be synced

	flush *flusher // nil with perFile
}

// NewImporter starts an import. With perFile, each blob and folder is
// fsynced on its own (a run's read-through of one entry: a sync of the
// whole file system would also wait for whatever else is being written
// there); otherwise Register makes everything durable with one sync pass
// (syncfs(2) of the cache's file system on Linux; elsewhere an fsync of
// each file and folder).
func (c *Cache) NewImporter(perFile bool) (*Importer, error) {
	return c.newImporter(perFile, earlySyncBytes)
}

// newImporter is NewImporter whose flusher syncs early every syncEvery
// bytes (tests make it small).
func (c *Cache) newImporter(perFile bool, syncEvery int64) (*Importer, error) {
	dir, err := c.TempDir("import-")
	if err != nil {
		return nil, err
	}
	im := &Importer{c: c, dir: dir, perFile: perFile, blobs: map[string]*source{}, dirs: map[string]bool{}}
	if !perFile {
		im.flush = startFlusher(c.dir, syncEvery)
	}
	return im, nil
}

// Close removes the importer's scratch folder (blobs already moved into
// the store stay there).
func (im *Importer) Close() error {
	im.flush.stop()
	return im.c.wrap("close importer", removeTree(im.dir))
}

// WriteBlob writes the blob with the given digest and size from r, hashing
// the bytes as it writes them, and keeps it for Register only if r holds
// exactly size bytes that hash to digest; otherwise it keeps nothing and
// returns an error wrapping ErrBadOutput that names the digest. Any other
// error is one of reading r or of writing the cache. A digest kept before
// is not written again.
func (im *Importer) WriteBlob(ctx context.Context, digest string, size int64, r io.Reader) error {
	err := im.writeBlob(ctx, digest, size, r)
	return im.c.wrap(fmt.Sprintf("import blob %s", digest), err)
}

func (im *Importer) writeBlob(ctx context.Context, digest string, size int64, r io.Reader) error {
	if !validDigest(digest) || size < 0 {
		return badOutputf("invalid digest %q or size %d", digest, size)
	}
	im.mu.Lock()
	_, done := im.blobs[digest]
	im.mu.Unlock()
	if done {
		return nil
	}
	// Flat: one scratch folder, files numbered; the store's shard folder
	// is the only other one touched.
	p := filepath.Join(im.dir, strconv.FormatInt(im.seq.Add(1), 10))
	// One byte more than size is read, so a longer blob is caught.
	got, n, inode, err := im.write(ctx, io.LimitReader(r, size+1), p, size)
	if err != nil {
		return err
	}
	switch {
	case n > size:
		os.Remove(p)
		return badOutputf("more than %d bytes", size)
	case n < size:
		os.Remove(p)
		return badOutputf("%d bytes, want %d", n, size)
	case got != digest:
		os.Remove(p)
		return badOutputf("its bytes hash to %s", got)
	}
	s := &source{path: p, file: File{Digest: digest, Size: size}, inode: inode}
	dirs := map[string]bool{}
	if err := im.c.placeNew(s, im.dir, dirs, true); err != nil {
		return err
	}
	if im.perFile {
		for d := range dirs {
			if err := syncDir(d); err != nil {
				return err
			}
		}
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if _, ok := im.blobs[digest]; !ok {
		im.blobs[digest] = s
	}
	for d := range dirs {
		im.dirs[d] = true
	}
	return nil
}

// ImportItem is one entry for Register: its key, record (Log and LogFile
// are ignored), manifest, and the digest and size of its log blob ("" and
// 0 without one).
type ImportItem struct {
	Key       string
	Record    Record
	Manifest  Manifest
	LogDigest string
	LogSize   int64
}

// ImportResult is what Register did with one item: the entry, or the
// reason it was refused (an error wrapping ErrBadOutput).
type ImportResult struct {
	Entry *Entry
	Err   error
}

// Register registers every item whose manifest is valid and whose every
// blob (the manifest's and the log's) WriteBlob kept with the manifest's
// size, in one transaction, after one sync pass (see NewImporter); each
// entry counts as one remote hit of its blobs' bytes in Stats. An item
// refused is reported in its result, naming the digest it lacks, and the
// others go on; an error of the batch (I/O, the index) registers nothing
// and is returned.
func (im *Importer) Register(ctx context.Context, items []ImportItem) ([]ImportResult, error) {
	res, err := im.register(ctx, items)
	return res, im.c.wrap(fmt.Sprintf("import %d entries", len(items)), err)
}

func (im *Importer) register(ctx context.Context, items []ImportItem) ([]ImportResult, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	res := make([]ImportResult, len(items))
	var ok []*staged
	var okIdx []int
	for i, it := range items {
		st, err := im.stage(it)
		if err != nil {
			res[i].Err = im.c.wrap(fmt.Sprintf("import %q", it.Key), err)
			continue
		}
		ok = append(ok, st)
		okIdx = append(okIdx, i)
	}
	if len(ok) == 0 {
		return res, nil
	}
	// With perFile, each blob and its folders were synced as they were
	// written.
	if !im.perFile {
		im.flush.stop() // every writeback asked for is started
		files := make([]string, 0, len(im.blobs))
		for _, s := range im.blobs {
			files = append(files, s.path)
		}
		if err := syncBatch(im.c.dir, files, im.dirs); err != nil {
			return nil, fmt.Errorf("sync: %w", err)
		}
	}
	err := im.c.writeTx(ctx, func(tx *sql.Tx) error {
		rt := &regTx{tx: tx}
		for _, st := range ok {
			if err := im.c.register(ctx, rt, st); err != nil {
				return fmt.Errorf("import %q: %w", st.key, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for j, st := range ok {
		res[okIdx[j]].Entry = st.entry
	}
	return res, nil
}

// stage checks an item against the kept blobs and returns it ready to
// register; im.mu is held.
func (im *Importer) stage(it ImportItem) (*staged, error) {
	if it.Key == "" {
		return nil, badOutputf("empty key")
	}
	if err := it.Manifest.Validate(); err != nil {
		return nil, badOutputf("invalid manifest: %v", err)
	}
	st := &staged{key: it.Key, rec: it.Record, remote: true, staging: im.dir, byDig: map[string]*source{}}
	need := func(what, d string, size int64) error {
		s, ok := im.blobs[d]
		switch {
		case !ok:
			return badOutputf("%s: blob %s was not received intact", what, d)
		case s.file.Size != size:
			return badOutputf("%s: blob %s has %d bytes, want %d", what, d, s.file.Size, size)
		}
		if _, ok := st.byDig[d]; !ok {
			st.byDig[d] = s
			st.digests = append(st.digests, d)
		}
		return nil
	}
	m := slices.Clone(it.Manifest)
	slices.SortFunc(m, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	for _, f := range m {
		if err := need(fmt.Sprintf("file %q", f.Path), f.Digest, f.Size); err != nil {
			return nil, err
		}
	}
	if it.LogDigest != "" {
		if err := need("log", it.LogDigest, it.LogSize); err != nil {
			return nil, err
		}
	}
	slices.Sort(st.digests)
	e := &Entry{Key: it.Key, Digest: m.Digest(), Manifest: m, Record: it.Record, Created: im.c.now(),
		LogDigest: it.LogDigest, LogSize: it.LogSize}
	e.Record.Log, e.Record.LogFile = nil, ""
	st.rec = e.Record
	st.entry = e
	return st, nil
}

// writebackChunk is how many bytes of a blob are written before the
// kernel is asked to start writing them to disk.
const writebackChunk = 8 << 20

// writebackMin is the size from which a blob's writeback is started as it
// is written. A smaller blob is left to the sync pass: asking for it costs
// a duplicated descriptor, a request to the flusher and a system call per
// blob, for bytes the sync pass writes in one go (table7's cache has 616
// blobs under 1 MiB holding 8 % of its bytes).
const writebackMin = 1 << 20

// write copies r into a new read-only file p, hashing what it writes
// (counted in HashedBytes), and fsyncs it with perFile; it returns the
// digest, the bytes written and the file's inode. Without perFile, for a
// blob of at least writebackMin bytes (size is the expected size), it asks
// im.flush to start the writeback of every writebackChunk it writes and of
// the rest at the end, so that the disk works while the rest downloads
// and the sync pass before Register has little left to wait for. It
// removes p on error.
func (im *Importer) write(ctx context.Context, r io.Reader, p string, size int64) (string, int64, uint64, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return "", 0, 0, err
	}
	h := newHasher()
	var w io.Writer = f
	var fw *flushWriter
	if size >= writebackMin {
		fw = im.flush.writer(f)
		w = fw
	}
	n, err := copyCtx(ctx, io.MultiWriter(h, w), r)
	im.c.hashed.Add(n)
	if fw != nil {
		fw.done(err == nil)
	}
	if err == nil && im.perFile {
		err = f.Sync()
	}
	var inode uint64
	if err == nil {
		inode, err = readOnly(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(p)
		return "", n, 0, err
	}
	return h.hex(), n, inode, nil
}

// readOnly makes the open file f read-only (0444) unless it is already
// (the umask may have cleared bits of the mode it was created with) and
// returns its inode, with one fstat.
func readOnly(f *os.File) (uint64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Mode().Perm() != 0o444 {
		if err := f.Chmod(0o444); err != nil {
			return 0, err
		}
	}
	var inode uint64
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		inode = sys.Ino
	}
	return inode, nil
}

// A flusher starts the kernel's writeback of ranges of files written by
// others, on a goroutine of its own: starting a writeback may block while
// the disk's queue is full, and the writers must not wait for it. Every
// earlySyncBytes whose writeback it started, it also syncs the cache's
// file system (syncEarly), so that most of what is written is made
// durable (written and flushed from the disk's cache) while the downloads
// go on, not all in the sync pass at the end. It only hastens what a later
// sync makes durable; a request it cannot take at once is dropped. A nil
// flusher does nothing.
type flusher struct {
	mu      sync.Mutex
	reqs    chan flushReq
	stopped bool
	wg      sync.WaitGroup
	// writebacks and syncs count the writebacks started and the early
	// syncs; only the flusher's goroutine writes them, and they are read
	// after stop.
	writebacks, syncs int
}

// flushReq asks for the writeback of n bytes from off of the file fd (a
// duplicate owned by the flusher), closing fd afterwards when last.
type flushReq struct {
	fd     int
	off, n int64
	last   bool
}

// earlySyncBytes is how many bytes a flusher starts writing back between
// two early syncs.
const earlySyncBytes = 64 << 20

// startFlusher starts a flusher for files on the file system of root that
// syncs it early every syncEvery bytes whose writeback it started.
func startFlusher(root string, syncEvery int64) *flusher {
	fl := &flusher{reqs: make(chan flushReq, 1024)}
	fl.wg.Add(1)
	go func() {
		defer fl.wg.Done()
		var since int64
		for r := range fl.reqs {
			if r.n > 0 {
				startWriteback(r.fd, r.off, r.n)
				fl.writebacks++
				since += r.n
			}
			if r.last {
				closeFd(r.fd)
			}
			if since >= syncEvery {
				syncEarly(root)
				fl.syncs++
				since = 0
			}
		}
	}()
	return fl
}

// send queues r unless the flusher is stopped or its queue is full; it
// reports whether r was queued.
func (fl *flusher) send(r flushReq) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.stopped {
		return false
	}
	select {
	case fl.reqs <- r:
		return true
	default:
		return false
	}
}

// stop waits until every queued request is started; later ones are
// dropped.
func (fl *flusher) stop() {
	if fl == nil {
		return
	}
	fl.mu.Lock()
	if !fl.stopped {
		fl.stopped = true
		close(fl.reqs)
	}
	fl.mu.Unlock()
	fl.wg.Wait()
}

// writer returns a writer to f that asks fl for the writeback of every
// writebackChunk written.
func (fl *flusher) writer(f *os.File) *flushWriter {
	w := &flushWriter{f: f, fl: fl, fd: -1}
	if fl != nil {
		w.fd = dupFd(f)
	}
	return w
}

// flushWriter writes to f and asks fl for the writeback of what it wrote.
type flushWriter struct {
	f            *os.File
	fl           *flusher
	fd           int // the flusher's duplicate of f's descriptor; -1: none
	off, started int64
}

func (w *flushWriter) Write(b []byte) (int, error) {
	n, err := w.f.Write(b)
	w.off += int64(n)
	if w.fd >= 0 && w.off-w.started >= writebackChunk && w.fl.send(flushReq{fd: w.fd, off: w.started, n: w.off - w.started}) {
		w.started = w.off
	}
	return n, err
}

// done asks for the writeback of the rest (when ok) and hands the
// duplicate descriptor to the flusher to close (or closes it).
func (w *flushWriter) done(ok bool) {
	if w.fd < 0 {
		return
	}
	r := flushReq{fd: w.fd, last: true}
	if ok {
		r.off, r.n = w.started, w.off-w.started
	}
	if !w.fl.send(r) {
		closeFd(w.fd)
	}
	w.fd = -1
}
