package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLeaseExclusiveAcrossHandles(t *testing.T) {
	dir := t.TempDir()
	caches := []*Cache{openT(t, dir, Options{}), openT(t, dir, Options{})}
	var holders, maxHolders, acquired atomic.Int32
	var wg sync.WaitGroup
	for _, c := range caches {
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					l, err := c.Acquire(context.Background(), "shared-key")
					if err != nil {
						t.Error(err)
						return
					}
					n := holders.Add(1)
					for {
						m := maxHolders.Load()
						if n <= m || maxHolders.CompareAndSwap(m, n) {
							break
						}
					}
					acquired.Add(1)
					time.Sleep(time.Millisecond)
					holders.Add(-1)
					if err := l.Release(); err != nil {
						t.Error(err)
					}
				}
			}()
		}
	}
	wg.Wait()
	if maxHolders.Load() != 1 || acquired.Load() != 40 {
		t.Errorf("max simultaneous holders = %d, acquisitions = %d; want 1, 40", maxHolders.Load(), acquired.Load())
	}
	if st, _ := caches[0].Stats(context.Background()); st.Leases != 0 {
		t.Errorf("%d lease rows left after Release", st.Leases)
	}
}

// insertLease writes a lease row as another owner would.
func insertLease(t *testing.T, c *Cache, key, host string, pid int, start int64, expires time.Time) {
	t.Helper()
	_, err := c.db.Exec(`INSERT INTO leases (key, owner, host, pid, pid_start, expires_ns) VALUES (?, 'other', ?, ?, ?, ?)`,
		key, host, pid, start, expires.UnixNano())
	must(t, err)
}

func TestLeaseTakeover(t *testing.T) {
	future := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		insert func(t *testing.T, c *Cache)
		steal  bool
	}{
		{"dead pid on this host", func(t *testing.T, c *Cache) {
			insertLease(t, c, "k", c.self.host, deadPID(t), 1, future)
		}, true},
		{"reused pid on this host", func(t *testing.T, c *Cache) {
			insertLease(t, c, "k", c.self.host, c.self.pid, c.self.start+1, future)
		}, true},
		{"expired on another host", func(t *testing.T, c *Cache) {
			insertLease(t, c, "k", "elsewhere", 1, 1, time.Now().Add(-time.Second))
		}, true},
		{"live on another host", func(t *testing.T, c *Cache) {
			insertLease(t, c, "k", "elsewhere", 1, 1, future)
		}, false},
		{"live process on this host", func(t *testing.T, c *Cache) {
			insertLease(t, c, "k", c.self.host, c.self.pid, c.self.start, future)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := newCache(t)
			tt.insert(t, c)
			// The rows expire in an hour: a take-over within the deadline
			// did not wait for expiry.
			wait := 300 * time.Millisecond
			if tt.steal {
				wait = 10 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			l, err := c.Acquire(ctx, "k")
			if !tt.steal {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Acquire = %v, want to wait until the deadline", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Acquire = %v, want the lease taken over", err)
			}
			var owner string
			must(t, c.db.QueryRow(`SELECT owner FROM leases WHERE key = 'k'`).Scan(&owner))
			if owner != l.owner {
				t.Errorf("lease owner = %q, want ours", owner)
			}
			must(t, l.Release())
			must(t, l.Release()) // idempotent
		})
	}
}

func TestLeaseHeartbeatAndRelease(t *testing.T) {
	dir := t.TempDir()
	c := openT(t, dir, Options{LeaseTTL: 900 * time.Millisecond})
	other := openT(t, dir, Options{LeaseTTL: 900 * time.Millisecond})
	l, err := c.Acquire(context.Background(), "k")
	must(t, err)
	var first int64
	must(t, c.db.QueryRow(`SELECT expires_ns FROM leases WHERE key = 'k'`).Scan(&first))
	// Held for several TTLs: the heartbeat keeps it from expiring.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := other.Acquire(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire while held = %v, want to wait", err)
	}
	var later int64
	must(t, c.db.QueryRow(`SELECT expires_ns FROM leases WHERE key = 'k'`).Scan(&later))
	if later <= first {
		t.Errorf("heartbeat did not extend the lease: %d <= %d", later, first)
	}
	must(t, l.Release())
	var n int
	must(t, c.db.QueryRow(`SELECT count(*) FROM leases`).Scan(&n))
	if n != 0 {
		t.Errorf("%d lease rows after Release", n)
	}
	l2, err := other.Acquire(context.Background(), "k")
	must(t, err)
	// Close releases leases still held.
	must(t, other.Close())
	must(t, c.db.QueryRow(`SELECT count(*) FROM leases`).Scan(&n))
	if n != 0 {
		t.Errorf("%d lease rows after Close", n)
	}
	must(t, l2.Release())
}
