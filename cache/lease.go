package cache

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// maxBackoff bounds the wait between two attempts to take a held lease.
const maxBackoff = 100 * time.Millisecond

// Lease is the right, shared by every process using the cache, to compute
// one key. Release it when done.
type Lease struct {
	c     *Cache
	key   string
	owner string
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	err   error
}

// Acquire takes the lease on key, waiting (polling with a backoff of at most
// 100ms) while another live owner holds it. A lease is taken over when it
// has expired, or when its owner is on this host and its process is gone or
// its pid now belongs to another process, so the leases of a killed process
// are reclaimed at once. A goroutine renews the lease every LeaseTTL/3 until
// Release. No transaction is held while the caller works.
func (c *Cache) Acquire(ctx context.Context, key string) (*Lease, error) {
	l, err := c.acquire(ctx, key)
	return l, c.wrap(fmt.Sprintf("acquire lease on %q", key), err)
}

func (c *Cache) acquire(ctx context.Context, key string) (*Lease, error) {
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	l := &Lease{c: c, key: key, owner: hex.EncodeToString(tok[:]), stop: make(chan struct{}), done: make(chan struct{})}
	backoff := 2 * time.Millisecond
	for {
		c.mu.Lock()
		closed := c.closed
		c.mu.Unlock()
		if closed {
			return nil, errors.New("cache is closed")
		}
		got, err := c.tryAcquire(ctx, l)
		if err != nil {
			return nil, err
		}
		if got {
			break
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxBackoff)
	}
	c.mu.Lock()
	if c.closed {
		// Close ran meanwhile and will not release this lease: undo it.
		c.mu.Unlock()
		c.db.Exec(`DELETE FROM leases WHERE key = ? AND owner = ?`, l.key, l.owner)
		return nil, errors.New("cache is closed")
	}
	c.leases[l] = struct{}{}
	c.mu.Unlock()
	go l.heartbeat()
	return l, nil
}

// tryAcquire takes the lease row for l when it is free, expired or owned by
// a process that is gone.
func (c *Cache) tryAcquire(ctx context.Context, l *Lease) (bool, error) {
	got := false
	err := c.writeTx(ctx, func(tx *sql.Tx) error {
		now := c.now()
		old := leaseRow{key: l.key}
		err := tx.QueryRowContext(ctx, `SELECT owner, host, pid, pid_start, expires_ns, pgid, pgid_start FROM leases WHERE key = ?`, l.key).
			Scan(&old.owner, &old.host, &old.pid, &old.start, &old.expires, &old.pgid, &old.pgidStart)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case old.expires <= now.UnixNano():
			c.log.Debug("cache: taking over expired lease", "key", l.key, "host", old.host, "pid", old.pid)
			c.endOrphans(old)
		case c.gone(old.host, old.pid, old.start):
			c.log.Debug("cache: taking over lease of a process that is gone", "key", l.key, "pid", old.pid)
			c.endOrphans(old)
		default:
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT OR REPLACE INTO leases (key, owner, host, pid, pid_start, expires_ns)
			VALUES (?, ?, ?, ?, ?, ?)`, l.key, l.owner, c.self.host, c.self.pid, c.self.start, now.Add(c.ttl).UnixNano())
		got = err == nil
		return err
	})
	return got, err
}

// heartbeat renews the lease every TTL/3 until Release.
func (l *Lease) heartbeat() {
	defer close(l.done)
	t := time.NewTicker(l.c.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.c.ttl/3)
		res, err := l.c.db.ExecContext(ctx, `UPDATE leases SET expires_ns = ? WHERE key = ? AND owner = ?`,
			l.c.now().Add(l.c.ttl).UnixNano(), l.key, l.owner)
		cancel()
		var n int64
		if err == nil {
			n, err = res.RowsAffected()
		}
		switch {
		case err != nil:
			l.c.log.Warn("cache: renew lease", "key", l.key, "err", err)
		case n == 0:
			l.c.log.Warn("cache: lease was taken over by another process", "key", l.key)
			return
		}
	}
}

// SetGroup records in the lease the process group its holder started to
// compute the key (a command's group): if this process dies, whoever takes
// the lease over ends that group before running the node again, instead of
// running it beside the orphans. The group leader's start time is recorded
// with it (this process's own when the leader is already gone: every member
// started after it), so that a group id reused by unrelated processes is
// left alone.
func (l *Lease) SetGroup(pgid int) error {
	start := l.c.self.start
	if s, _, err := procStat(pgid); err == nil {
		start = s
	}
	_, err := l.c.db.ExecContext(context.Background(), `UPDATE leases SET pgid = ?, pgid_start = ? WHERE key = ? AND owner = ?`,
		pgid, start, l.key, l.owner)
	return l.c.wrap(fmt.Sprintf("record process group of lease on %q", l.key), err)
}

// leaseRow is a lease as stored.
type leaseRow struct {
	key, owner, host string
	pid              int
	start, expires   int64
	pgid             int
	pgidStart        int64
}

// endOrphans kills (SIGKILL) what is left of the process group a dead
// lease holder started, before its lease is taken over or deleted: the
// members of group pgid on this host that started no earlier than the
// recorded leader. Nothing is killed when the holder may still live (another
// host, or its process still runs), or when a process other than the
// recorded leader now has the group's id as its pid (the id was reused).
func (c *Cache) endOrphans(l leaseRow) {
	if l.pgid <= 0 || l.host != c.self.host || !c.self.procfs || !c.gone(l.host, l.pid, l.start) {
		return
	}
	if start, _, err := procStat(l.pgid); err == nil && start != l.pgidStart {
		return
	}
	for _, pid := range groupMembers(l.pgid, l.pgidStart) {
		c.log.Warn("cache: ending a process left running by a dead dagrun", "key", l.key, "pid", pid, "pgid", l.pgid)
		unix.Kill(pid, unix.SIGKILL)
	}
}

// Key returns the key the lease is for.
func (l *Lease) Key() string { return l.key }

// Release stops the heartbeat, waits for it to end and deletes the lease.
// Calling it again returns the first result.
func (l *Lease) Release() error {
	l.once.Do(func() {
		close(l.stop)
		<-l.done
		l.c.mu.Lock()
		delete(l.c.leases, l)
		l.c.mu.Unlock()
		_, err := l.c.db.ExecContext(context.Background(), `DELETE FROM leases WHERE key = ? AND owner = ?`, l.key, l.owner)
		l.err = l.c.wrap(fmt.Sprintf("release lease on %q", l.key), err)
	})
	return l.err
}
