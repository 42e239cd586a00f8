package cache

import (
	"bytes"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// openT opens the cache in dir and closes it when the test ends.
func openT(t *testing.T, dir string, opt Options) *Cache {
	t.Helper()
	c, err := Open(dir, opt)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return c
}

// newCache opens a cache in a fresh folder, logging into the returned buffer.
func newCache(t *testing.T) (*Cache, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	c := openT(t, t.TempDir(), Options{Logger: slog.New(slog.NewTextHandler(buf, nil))})
	return c, buf
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// output writes files (path -> content; a path ending in "*" is made
// executable, without the star) into a fresh scratch folder of c.
func output(t *testing.T, c *Cache, files map[string]string) string {
	t.Helper()
	dir, err := c.TempDir("out-")
	if err != nil {
		t.Fatal(err)
	}
	for p, content := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(p, "*") {
			p, mode = strings.TrimSuffix(p, "*"), 0o755
		}
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// objectFiles lists the files under objects/.
func objectFiles(t *testing.T, c *Cache) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(c.Dir(), "objects"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// rawDB opens index.db directly, for tests that tamper with it.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, "index.db")+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
