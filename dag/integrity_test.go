package dag_test

// Regression tests for issue 12 (cache integrity) at the engine level: each
// failed before its fix.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"dagrun/cache"
	"dagrun/dag"
	"dagrun/nodes"
	"dagrun/nodes/command"
	filekind "dagrun/nodes/file"
	"dagrun/spec"
)

// fakeKind is the fake kind of fakeRegistry, for registries that add
// other kinds beside it.
func fakeKind(cnt *counter) *nodes.Kind {
	return &nodes.Kind{
		Name: "fake", Doc: "test kind", Version: 1, FreeInputs: true,
		Params: func() any { return &fakeParams{} },
		New: func(b nodes.Build, p any) (nodes.Node, error) {
			return &fakeNode{p: *p.(*fakeParams), cnt: cnt}, nil
		},
	}
}

// funcKind is a kind without params whose nodes run fn.
func funcKind(name string, fn func(ctx context.Context, env *nodes.Env) error) *nodes.Kind {
	return &nodes.Kind{
		Name: name, Doc: "test kind", Version: 1, FreeInputs: true,
		New: func(nodes.Build, any) (nodes.Node, error) { return runFunc(fn), nil },
	}
}

type runFunc func(ctx context.Context, env *nodes.Env) error

func (f runFunc) Run(ctx context.Context, env *nodes.Env) error { return f(ctx, env) }

// graphWith loads text as a spec bound to reg.
func (e *env) graphWith(reg *nodes.Registry, file, text string) *dag.Graph {
	e.t.Helper()
	path := filepath.Join(e.dir, file)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	s, err := spec.Load(path, spec.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	g, err := dag.Build(s, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	return g
}

func resultOf(sum *dag.Summary, name string) *dag.Result {
	for _, r := range sum.Results {
		if r.Node.Name() == name {
			return r
		}
	}
	return nil
}

// rotBlob flips a byte of a blob in place, keeping its size, mtime and
// inode (silent bit rot).
func rotBlob(t *testing.T, p string) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		os.Chmod(p, 0o644)
		defer os.Chmod(p, 0o444)
		if f, err = os.OpenFile(p, os.O_RDWR, 0); err != nil {
			t.Fatal(err)
		}
	}
	b := make([]byte, 1)
	f.ReadAt(b, 0)
	b[0] ^= 0x20
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// Item 2: a node that makes its input writable and rewrites it. The store
// must not change, the node must fail naming the input, and nothing of it
// is committed; a node that runs after it reads the right bytes (here it is
// skipped, since it also reads the failed node).
func TestNodeWritingItsInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	poison := funcKind("poison", func(ctx context.Context, env *nodes.Env) error {
		p := filepath.Join(env.Input("x"), "out.txt")
		os.Chmod(p, 0o644)
		if err := os.WriteFile(p, []byte("POISON"), 0o644); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(env.OutDir, "out.txt"), []byte("w"), 0o644)
	})
	reg := nodes.NewRegistry(fakeKind(e.cnt), poison)
	g := e.graphWith(reg, "poison.yaml", `name: poison
nodes:
  a: {kind: fake, params: {value: A}}
  w: {kind: poison, inputs: {x: a}}
  s: {kind: fake, inputs: {x: a, y: w}, params: {value: S}}
`)
	sum := e.run(g, 2)
	w := resultOf(sum, "w")
	if w.State != dag.Failed || w.Err == nil || !strings.Contains(w.Err.Error(), `input "x"`) || !strings.Contains(w.Err.Error(), "out.txt") {
		t.Errorf("w: %v %v; want failed, naming input \"x\" and out.txt", w.State, w.Err)
	}
	if b, err := os.ReadFile(e.cache.BlobPath(sha256hex("A"))); err != nil || string(b) != "A" {
		t.Errorf("a's blob = %q, %v; want \"A\" unchanged", b, err)
	}
	if _, err := e.cache.Get(context.Background(), w.Key); err != cache.ErrNotFound {
		t.Errorf("w's key is in the cache (%v); a node that changed its input must not be committed", err)
	}
	if ps, err := e.cache.Verify(context.Background()); err != nil || len(ps) != 0 {
		t.Errorf("Verify = %v, %v", ps, err)
	}
}

// What a node may do with its private input copies: change their mode,
// hard-link them into its output (stored as a copy) and read them.
func TestNodeMayChmodAndLinkItsInputs(t *testing.T) {
	e := newEnv(t)
	linker := funcKind("linker", func(ctx context.Context, env *nodes.Env) error {
		p := filepath.Join(env.Input("x"), "out.txt")
		if err := os.Chmod(p, 0o600); err != nil {
			return err
		}
		return os.Link(p, filepath.Join(env.OutDir, "out.txt"))
	})
	reg := nodes.NewRegistry(fakeKind(e.cnt), linker)
	g := e.graphWith(reg, "link.yaml", `name: link
nodes:
  a: {kind: fake, params: {value: A}}
  l: {kind: linker, inputs: {x: a}}
`)
	sum := e.run(g, 1)
	if l := resultOf(sum, "l"); l.State != dag.Done || readOut(t, e.cache, l.Entry) != "A" {
		t.Fatalf("l: %v %v", l.State, l.Err)
	}
	fi, err := os.Stat(e.cache.BlobPath(sha256hex("A")))
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("a's blob: %v, %v; want it 0444 and untouched", fi.Mode(), err)
	}
}

// Item 3: a `file` source edited after its key was computed and before its
// copy is made must not be stored under the old key.
func TestFileSourceEditedBeforeCopyIsRefused(t *testing.T) {
	e := newEnv(t)
	data := filepath.Join(e.dir, "data.txt")
	if err := os.WriteFile(data, []byte("version 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := nodes.NewRegistry(fakeKind(e.cnt), filekind.Kind())
	g := e.graphWith(reg, "src.yaml", `name: src
nodes:
  src: {kind: file, params: {path: data.txt}}
`)
	// The executor stands for the wait on a -j slot or a lease: the key is
	// known, the node has not copied yet; the file changes meanwhile.
	ex := execFunc(func(ctx context.Context, job *dag.Job) error {
		if err := os.WriteFile(data, []byte("version 2, longer\n"), 0o644); err != nil {
			return err
		}
		return dag.Local{}.Execute(ctx, job)
	})
	r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: 1, Executor: ex}}
	sum, err := r.Run(context.Background(), g)
	if err != nil {
		t.Fatal(err)
	}
	src := resultOf(sum, "src")
	if src.State == dag.Done {
		ent, _ := e.cache.Get(context.Background(), src.Key)
		t.Fatalf("src was stored under the key of \"version 1\" with manifest %v", ent.Manifest)
	}
	if src.Err == nil || !strings.Contains(src.Err.Error(), "changed") {
		t.Errorf("src: %v %v; want a failure saying the file changed", src.State, src.Err)
	}
	// A rerun keys the new content.
	sum = e.run(g, 1)
	if r := resultOf(sum, "src"); r.State != dag.Done || r.Entry.Manifest[0].Digest != sha256hex("version 2, longer\n") {
		t.Errorf("rerun: %v %v", r.State, r.Err)
	}
}

// Item 4: an input whose blob rotted (same size, mtime and inode) must not
// be computed from: the consumer fails naming the corruption, and the next
// run recomputes the upstream node and then the consumer.
func TestRottenInputIsNeverComputedFrom(t *testing.T) {
	e := newEnv(t)
	e.run(e.graph("chain.yaml", chain), 1)
	rotBlob(t, e.cache.BlobPath(sha256hex("A")))
	// b must recompute (new salt) and reads a's rotten blob.
	salted := strings.Replace(chain, "value: B}", "value: B, salt: s}", 1)
	g := e.graph("chain.yaml", salted)
	sum := e.run(g, 1)
	b := resultOf(sum, "b")
	if b.State == dag.Done {
		t.Fatalf("b computed from rotten bytes: %q", readOut(t, e.cache, b.Entry))
	}
	if b.Err == nil || !strings.Contains(b.Err.Error(), "corrupt") {
		t.Errorf("b: %v %v; want a failure naming the corrupt blob", b.State, b.Err)
	}
	sum = e.run(g, 1)
	if a := resultOf(sum, "a"); a.State != dag.Done {
		t.Errorf("a: %v, want recomputed", a.State)
	}
	if b := resultOf(sum, "b"); b.State != dag.Done || readOut(t, e.cache, b.Entry) != "B(x:A)" {
		t.Errorf("b: %v, want recomputed from good bytes", b.State)
	}
}

func readOut(t *testing.T, c *cache.Cache, ent *cache.Entry) string {
	t.Helper()
	for _, f := range ent.Manifest {
		if f.Path == "out.txt" {
			b, _ := os.ReadFile(c.BlobPath(f.Digest))
			return string(b)
		}
	}
	return ""
}

// signalHandler is a slog handler that closes ch at the first record whose
// message contains substr.
type signalHandler struct {
	substr string
	once   *sync.Once
	ch     chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, h.substr) {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// Item 6: `cache gc` while a run is live must not delete what the run has
// produced or is about to read. Here gc starts after a is committed and
// before b (which reads a) has materialized its inputs.
func TestGCDuringLiveRunKeepsItsEntries(t *testing.T) {
	e := newEnv(t)
	started, release := make(chan struct{}), make(chan struct{})
	block := funcKind("block", func(ctx context.Context, env *nodes.Env) error {
		close(started)
		<-release
		return os.WriteFile(filepath.Join(env.OutDir, "out.txt"), []byte("C"), 0o644)
	})
	reg := nodes.NewRegistry(fakeKind(e.cnt), block)
	g := e.graphWith(reg, "live.yaml", `name: live
nodes:
  a: {kind: fake, params: {value: A}}
  c: {kind: block}
  b: {kind: fake, inputs: {x: a, y: c}, params: {value: B}}
`)
	aDone := make(chan struct{})
	r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: 2, Events: func(ev dag.Event) {
		if ev.Node.Name() == "a" && ev.State == dag.Done {
			close(aDone)
		}
	}}}
	type runOut struct {
		sum *dag.Summary
		err error
	}
	ran := make(chan runOut, 1)
	go func() {
		sum, err := r.Run(context.Background(), g)
		ran <- runOut{sum, err}
	}()
	<-aDone
	<-started
	waiting := make(chan struct{})
	gcCache, err := cache.Open(e.cache.Dir(), cache.Options{Logger: slog.New(signalHandler{"wait", &sync.Once{}, waiting})})
	if err != nil {
		t.Fatal(err)
	}
	defer gcCache.Close()
	gcDone := make(chan error, 1)
	go func() {
		_, err := gcCache.GC(context.Background(), nil, 0)
		gcDone <- err
	}()
	select {
	case <-waiting:
	case err := <-gcDone:
		gcDone <- err
	}
	close(release)
	out := <-ran
	if out.err != nil {
		t.Fatal(out.err)
	}
	if err := out.sum.Err(); err != nil {
		t.Errorf("run failed while gc ran: %v", err)
	}
	if err := <-gcDone; err != nil {
		t.Errorf("GC = %v", err)
	}
}

// Item 8: a cache error in the middle of a run is a cache error (exit 3 in
// the CLI), not a node failure like any other.
func TestCacheErrorDuringRunIsACacheError(t *testing.T) {
	e := newEnv(t)
	g := e.graph("chain.yaml", chain)
	tmp := filepath.Join(e.cache.Dir(), "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, []byte("not a folder"), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := e.run(g, 1)
	var ce *cache.Error
	if err := sum.Err(); err == nil || !errors.As(err, &ce) {
		t.Errorf("Err() = %v (%T), want it to wrap the *cache.Error", err, err)
	}
}

// Item 9: hashing an external file stops when the run is cancelled, within
// a chunk, instead of reading the whole file first.
func TestFingerprintStopsOnCancel(t *testing.T) {
	e := newEnv(t)
	const size = 64 << 20
	big := filepath.Join(e.dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	reg := nodes.NewRegistry(filekind.Kind())
	g := e.graphWith(reg, "big.yaml", "name: big\nnodes:\n  big: {kind: file, params: {path: big.bin}}\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	before := e.cache.HashedBytes()
	_, err = dag.Parts(ctx, g.Nodes[0], e.cache, func(*dag.Node) *cache.Entry { return nil })
	if n := e.cache.HashedBytes() - before; n >= size {
		t.Errorf("hashed %d bytes after the cancel, want less than the whole file", n)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Parts = %v, want context.Canceled", err)
	}
}

// Item 11: a command's output is streamed to a file, stored as a blob, and
// only its tail travels in events, on the run and on the cached rerun; the
// whole log stays readable from the cache.
func TestCommandOutputIsStreamed(t *testing.T) {
	e := newEnv(t)
	const size = 32 << 20
	reg := nodes.NewRegistry(command.Kind())
	g := e.graphWith(reg, "loud.yaml", fmt.Sprintf(`name: loud
nodes:
  loud:
    kind: command
    params: {argv: [sh, -c, "yes 0123456789abcdef | head -c %d; echo; echo last line"]}
`, size))
	var mu sync.Mutex
	var longest int
	events := func(ev dag.Event) {
		mu.Lock()
		longest = max(longest, len(ev.Log))
		mu.Unlock()
	}
	for _, want := range []dag.State{dag.Done, dag.Cached} {
		longest = 0
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		r := &dag.Runner{Cache: e.cache, Opts: dag.Options{Jobs: 1, Events: events}}
		sum, err := r.Run(context.Background(), g)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		res := resultOf(sum, "loud")
		if res.State != want {
			t.Fatalf("loud: %v %v, want %v", res.State, res.Err, want)
		}
		if longest > 64<<10 {
			t.Errorf("%v: an event carried %d bytes of log, want at most a tail", want, longest)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > size/4 {
			t.Errorf("%v: the run allocated %d bytes for %d bytes of output; want it streamed", want, alloc, size)
		}
		log, err := e.cache.ReadLog(res.Entry)
		if err != nil || len(log) != size+len("\nlast line\n") || !strings.HasSuffix(string(log), "last line\n") {
			t.Errorf("%v: stored log is %d bytes, %v", want, len(log), err)
		}
	}
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
