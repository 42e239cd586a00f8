// Package remotetest holds what every remote.Store must do, as one
// conformance suite (Run), and a counting fake store for tests that count
// requests or inject failures.
package remotetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"dagrun/remote"
)

// Run checks s against the Store contract. s must be empty.
func Run(t *testing.T, s remote.Store) {
	ctx := context.Background()
	if _, err := s.Get(ctx, "blobs/aa/missing"); !errors.Is(err, remote.ErrNotExist) {
		t.Fatalf("Get of a missing object: err = %v, want ErrNotExist", err)
	}
	if has, err := s.Has(ctx, "blobs/aa/missing"); err != nil || has {
		t.Fatalf("Has of a missing object = %v, %v; want false, nil", has, err)
	}
	for _, body := range []string{"hello", "", strings.Repeat("x", 1<<20+7)} {
		name := fmt.Sprintf("blobs/ab/obj%d", len(body))
		if err := s.Put(ctx, name, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatalf("Put %s: %v", name, err)
		}
		// A second, identical Put is harmless.
		if err := s.Put(ctx, name, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatalf("Put %s again: %v", name, err)
		}
		if has, err := s.Has(ctx, name); err != nil || !has {
			t.Fatalf("Has %s = %v, %v; want true, nil", name, has, err)
		}
		r, err := s.Get(ctx, name)
		if err != nil {
			t.Fatalf("Get %s: %v", name, err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != body {
			t.Fatalf("Get %s = %d bytes (err %v), want %d", name, len(got), err, len(body))
		}
	}
	// A Put whose reader fails leaves no object.
	if err := s.Put(ctx, "entries/broken", io.MultiReader(strings.NewReader("par"), errReader{}), 10); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if has, _ := s.Has(ctx, "entries/broken"); has {
		t.Fatal("a failed Put left an object")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("reader failed") }

// Counting wraps a Store, counting requests, and can fail them.
type Counting struct {
	remote.Store
	mu                sync.Mutex
	Gets, Puts, Hases int
	// FailAfterPuts, when > 0, makes every Put after that many fail.
	FailAfterPuts int
	// Down makes every request fail, as an unreachable server would.
	Down bool
}

var errDown = errors.New("connection refused (fake)")

func (c *Counting) count(n *int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	*n++
	if c.Down {
		return errDown
	}
	return nil
}

// Get counts and forwards.
func (c *Counting) Get(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := c.count(&c.Gets); err != nil {
		return nil, err
	}
	return c.Store.Get(ctx, name)
}

// Has counts and forwards.
func (c *Counting) Has(ctx context.Context, name string) (bool, error) {
	if err := c.count(&c.Hases); err != nil {
		return false, err
	}
	return c.Store.Has(ctx, name)
}

// Put counts and forwards, or fails once FailAfterPuts puts have been made.
func (c *Counting) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	if err := c.count(&c.Puts); err != nil {
		return err
	}
	c.mu.Lock()
	fail := c.FailAfterPuts > 0 && c.Puts > c.FailAfterPuts
	c.mu.Unlock()
	if fail {
		// Read part of the body first, as a connection cut mid-upload would.
		io.CopyN(io.Discard, r, 1)
		return errors.New("put interrupted (fake)")
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, r); err != nil {
		return err
	}
	return c.Store.Put(ctx, name, &buf, size)
}

// Requests returns the number of requests so far.
func (c *Counting) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Gets + c.Puts + c.Hases
}
