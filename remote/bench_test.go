package remote_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"dagrun/cache"
	"dagrun/remote"
	"dagrun/remote/remotetest"
)

// benchCache commits entries entries of files files of size bytes each
// (seeded random content) and returns the cache and its entries.
func benchCache(b *testing.B, entries, files, size int) (*cache.Cache, []*cache.Entry) {
	c, err := cache.Open(b.TempDir(), cache.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	rng := rand.New(rand.NewPCG(1, 2))
	var out []*cache.Entry
	for i := 0; i < entries; i++ {
		dir, _ := c.TempDir("bench-")
		for j := 0; j < files; j++ {
			buf := make([]byte, size)
			for k := range buf {
				buf[k] = byte(rng.Uint32())
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", j)), buf, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		e, err := c.Commit(context.Background(), fmt.Sprintf("key%04d", i), dir, cache.Record{Kind: "k", Version: 1, Log: []byte("log\n")})
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, e)
	}
	return c, out
}

// BenchmarkPull pulls every entry of a cache (50 entries of 10 files of
// 64 KiB) from a remote into an empty cache as one batch (FetchMany), and
// reports requests per object (entries + blobs) and MB/s. BenchmarkCopyTree
// copies the same cache folder with cp -r, the physical limit.
func BenchmarkPull(b *testing.B) {
	for _, kind := range []string{"file", "s3"} {
		b.Run(kind, func(b *testing.B) {
			var store remote.Store
			if kind == "file" {
				store = &remote.FileStore{Root: b.TempDir()}
			} else {
				if os.Getenv("DAGRUN_S3_ENDPOINT") == "" {
					b.Skip("no S3 server (scripts/s3/start.sh)")
				}
				store = s3StoreB(b)
			}
			src, ents := benchCache(b, 50, 10, 64<<10)
			ctx := context.Background()
			for _, e := range ents {
				if err := (&remote.Tier{Store: store, Cache: src, Required: true}).Push(ctx, e); err != nil {
					b.Fatal(err)
				}
			}
			objects := len(ents) * (10 + 1 + 1) // entry, files, log
			keys := make([]string, len(ents))
			for i, e := range ents {
				keys[i] = e.Key
			}
			var bytes int64
			for _, e := range ents {
				bytes += e.Manifest.Size() + e.LogSize
			}
			b.SetBytes(bytes)
			counting := &remotetest.Counting{Store: store}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dst, err := cache.Open(b.TempDir(), cache.Options{})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t := &remote.Tier{Store: counting, Cache: dst, Required: true}
				got, err := t.FetchMany(ctx, keys)
				if err != nil {
					b.Fatal(err)
				}
				for i, e := range got {
					if e == nil {
						b.Fatalf("fetch %s: miss", keys[i])
					}
				}
				b.StopTimer()
				dst.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(counting.Requests())/float64(b.N)/float64(objects), "req/object")
		})
	}
}

func BenchmarkCopyTree(b *testing.B) {
	src, _ := benchCache(b, 50, 10, 64<<10)
	b.SetBytes(50 * (10*64<<10 + 4))
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(b.TempDir(), "copy")
		if out, err := exec.Command("cp", "-r", src.Dir(), dst).CombinedOutput(); err != nil {
			b.Fatal(err, string(out))
		}
	}
}
