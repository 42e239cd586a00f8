package cache

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// runsLock is the file whose flock separates runs from GC: every run holds
// it shared, GC holds it exclusively. A flock belongs to an open file
// description, so two handles in one process exclude each other too, and
// the kernel drops it when its process dies: a killed run never blocks GC.
const runsLock = "runs.lock"

// BeginRun marks the caller as a run using the cache until the returned
// function is called: GC waits while any run is marked, so that it never
// deletes what a live run has produced or is about to read. BeginRun
// itself waits while a GC is deleting, and returns ctx's error if ctx ends
// first.
func (c *Cache) BeginRun(ctx context.Context) (end func(), err error) {
	f, err := c.flockRuns(ctx, unix.LOCK_SH, nil)
	if err != nil {
		return nil, c.wrap("begin run", err)
	}
	return func() { f.Close() }, nil
}

// flockRuns opens runs.lock and takes the lock how (LOCK_SH or LOCK_EX),
// polling while another process holds it the other way; waiting, when not
// nil, is called once if it has to wait. Closing the file releases the lock.
func (c *Cache) flockRuns(ctx context.Context, how int, waiting func()) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, runsLock), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, err
	}
	backoff := 5 * time.Millisecond
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		switch err {
		case nil:
			return f, nil
		case unix.EINTR:
			continue
		case unix.EWOULDBLOCK:
		default:
			f.Close()
			return nil, err
		}
		if waiting != nil {
			waiting()
			waiting = nil
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}
