package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestConcurrentHandles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const workers, keys = 8, 6
	var wg sync.WaitGroup
	handles := make([]*Cache, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every worker opens the fresh folder at once.
			c, err := Open(dir, Options{})
			if err != nil {
				t.Errorf("worker %d: Open = %v", w, err)
				return
			}
			handles[w] = c
			for i := range keys {
				for _, key := range []string{fmt.Sprintf("own-%d-%d", w, i), fmt.Sprintf("same-%d", i)} {
					out, err := c.TempDir("out-")
					if err != nil {
						t.Error(err)
						return
					}
					// "same-*" keys get identical content from every worker.
					content := key
					if err := os.WriteFile(filepath.Join(out, "data"), []byte(content), 0o644); err != nil {
						t.Error(err)
						return
					}
					if _, err := c.Commit(ctx, key, out, Record{Kind: "k", Metrics: map[string]float64{"i": float64(i)}}); err != nil {
						t.Errorf("worker %d: Commit(%q) = %v", w, key, err)
						return
					}
					if _, err := c.Get(ctx, key); err != nil {
						t.Errorf("worker %d: Get(%q) = %v", w, key, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for _, c := range handles {
		if c != nil {
			defer c.Close()
		}
	}
	if t.Failed() {
		return
	}
	c := handles[0]
	st, err := c.Stats(ctx)
	must(t, err)
	if want := workers*keys + keys; st.Entries != want || st.Blobs != want {
		t.Errorf("Stats = %+v, want %d entries and blobs", st, want)
	}
	if ps, err := c.Verify(ctx); err != nil || len(ps) != 0 {
		t.Errorf("Verify = %v, %v", ps, err)
	}
}

// The crash test re-runs this test binary as a child that commits in a loop
// until it is killed.
const crashChildEnv = "DAGRUN_CACHE_CRASH_CHILD"

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("only runs as the child of TestCrashSafety")
	}
	ctx := context.Background()
	c, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 1))
	for i := 0; ; i++ {
		key := "key-" + strconv.Itoa(rng.IntN(40))
		l, err := c.Acquire(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.TempDir("out-")
		if err != nil {
			t.Fatal(err)
		}
		for f := range 1 + rng.IntN(4) {
			b := make([]byte, rng.IntN(64<<10))
			for j := range b {
				b[j] = byte(rng.IntN(4)) // compressible, and often shared across entries
			}
			if err := os.WriteFile(filepath.Join(out, "f"+strconv.Itoa(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := c.Commit(ctx, key, out, Record{Log: []byte("log " + key)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(ctx, key); err != nil && err != ErrNotFound {
			t.Fatal(err)
		}
		if _, err := c.RecordRun(ctx, "spec", []RunNode{{Node: "n", Key: key}}); err != nil {
			t.Fatal(err)
		}
		if i%10 == 9 {
			if _, err := c.GC(ctx, nil, 15); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ctx := context.Background()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	for round := range 6 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		must(t, cmd.Start())
		time.Sleep(time.Duration(300+rng.IntN(700)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: child ended by itself (%v):\n%s", round, err, out.String())
		}

		c, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after kill = %v", round, err)
		}
		ps, err := c.Verify(ctx)
		if err != nil || len(ps) != 0 {
			t.Errorf("round %d: Verify = %v, %v", round, ps, err)
		}
		ents, err := c.Entries(ctx)
		must(t, err)
		for _, ei := range ents {
			e, err := c.Get(ctx, ei.Key)
			if err != nil {
				t.Errorf("round %d: Get(%q) = %v", round, ei.Key, err)
				continue
			}
			for _, f := range e.Manifest {
				if _, err := os.Stat(c.BlobPath(f.Digest)); err != nil {
					t.Errorf("round %d: %q %s: %v", round, ei.Key, f.Path, err)
				}
			}
		}
		// The killed child's leases are taken over at once.
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		for i := range 40 {
			l, err := c.Acquire(lctx, "key-"+strconv.Itoa(i))
			if err != nil {
				t.Errorf("round %d: Acquire after kill = %v", round, err)
				break
			}
			must(t, l.Release())
		}
		cancel()
		// Its scratch folders are gone.
		tmps, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(tmps) != 0 {
			t.Errorf("round %d: scratch folders left after Open: %d", round, len(tmps))
		}
		t.Logf("round %d: %d entries", round, len(ents))
		must(t, c.Close())
	}
}
