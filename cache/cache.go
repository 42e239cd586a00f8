package cache

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"
	"golang.org/x/sys/unix"
)

// applicationID marks index.db as a dagrun cache ("dagr"), so that another
// program's SQLite database is not mistaken for one.
const applicationID = 0x64616772

// busyTimeout is how long a statement waits for another writer.
const busyTimeout = 30 * time.Second

//go:embed migrations/*.sql
var migrationFS embed.FS

// Options configures a Cache. The zero value is usable.
type Options struct {
	Logger   *slog.Logger     // warnings (missing or corrupt blob, lost lease); nil discards them
	Now      func() time.Time // clock for recorded times and lease expiry; nil means time.Now
	LeaseTTL time.Duration    // lease lifetime without heartbeat; 0 means 30s; renewed every TTL/3
}

// Cache is an open cache folder. It is safe for concurrent use, and several
// processes may open the same folder at once.
type Cache struct {
	dir  string
	db   *sql.DB
	log  *slog.Logger
	now  func() time.Time
	ttl  time.Duration
	self proc // this process, for leases and scratch folder names

	hashed atomic.Int64
	stmts  stmts

	// memo remembers file digests this process has computed or read, by
	// path and stat, so a spec with thousands of nodes reading one program
	// asks SQLite once.
	memoMu sync.Mutex
	memo   map[string]memoEntry

	mu     sync.Mutex
	leases map[*Lease]struct{}
	closed bool
}

// Open opens the cache in dir, creating the folder and its index when
// absent and applying pending schema migrations. It refuses a read-only
// folder (judged by its mode bits too, so that it also holds for root) and an
// index.db that is not a dagrun cache, creating nothing in either case. It
// removes the scratch folders of processes that are gone.
func Open(dir string, opt Options) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Op: "open", Dir: dir, Err: err}
	}
	c := &Cache{
		dir:    abs,
		log:    opt.Logger,
		now:    opt.Now,
		ttl:    opt.LeaseTTL,
		leases: map[*Lease]struct{}{},
		memo:   map[string]memoEntry{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.ttl <= 0 {
		c.ttl = 30 * time.Second
	}
	c.self = selfProc()
	if err := c.checkFolder(); err != nil {
		return nil, err
	}
	if err := c.openIndex(); err != nil {
		return nil, err
	}
	for _, sub := range []string{"objects", "tmp"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			c.db.Close()
			return nil, c.wrap("open", err)
		}
	}
	if _, _, err := c.removeStaleTmp(); err != nil {
		c.db.Close()
		return nil, c.wrap("open: remove stale scratch folders", err)
	}
	return c, nil
}

// Dir returns the absolute path of the cache folder.
func (c *Cache) Dir() string { return c.dir }

// Close releases the leases still held through c and closes the index.
// Calling it again does nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	held := make([]*Lease, 0, len(c.leases))
	for l := range c.leases {
		held = append(held, l)
	}
	c.mu.Unlock()
	var errs []error
	for _, l := range held {
		errs = append(errs, l.Release())
	}
	errs = append(errs, c.wrap("close", c.closeStmts()), c.wrap("close", c.db.Close()))
	return errors.Join(errs...)
}

// checkFolder creates the cache folder when absent and refuses one that is
// not a folder or may not be written.
func (c *Cache) checkFolder() error {
	fi, err := os.Stat(c.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			return &Error{Op: "create folder", Dir: c.dir, Err: err}
		}
		fi, err = os.Stat(c.dir)
	}
	if err != nil {
		return &Error{Op: "open", Dir: c.dir, Err: err}
	}
	if !fi.IsDir() {
		return &Error{Dir: c.dir, Err: errors.New("not a folder")}
	}
	if err := writable(c.dir, fi); err != nil {
		return &Error{Dir: c.dir, Err: err}
	}
	db := filepath.Join(c.dir, "index.db")
	if fi, err := os.Lstat(db); err == nil {
		if !fi.Mode().IsRegular() {
			return &Error{Dir: c.dir, Err: fmt.Errorf("%w (not a regular file)", ErrNotCache)}
		}
		if err := writable(db, fi); err != nil {
			return &Error{Dir: c.dir, Err: fmt.Errorf("index.db: %w", err)}
		}
	}
	return nil
}

// writable reports an ErrReadOnly error when path has no write bit or the
// kernel refuses writing (a read-only mount, another user's folder).
func writable(path string, fi fs.FileInfo) error {
	if fi.Mode().Perm()&0o222 == 0 {
		return fmt.Errorf("%w: mode %v has no write permission (chmod u+w %q, or use another --cache)", ErrReadOnly, fi.Mode().Perm(), path)
	}
	if err := unix.Access(path, unix.W_OK); err != nil {
		return fmt.Errorf("%w: %v", ErrReadOnly, err)
	}
	return nil
}

// dsn returns the SQLite URI for path with the given query parameters.
func dsn(path, params string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path) + "?" + params
}

// openIndex opens index.db, checks that it belongs to dagrun and migrates it.
func (c *Cache) openIndex() error {
	path := filepath.Join(c.dir, "index.db")
	// Probe an existing file without the connection pragmas below, which
	// would switch another program's database to WAL mode.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		if err := probeIndex(path); err != nil {
			return &Error{Dir: c.dir, Err: err}
		}
	}
	// Serialize first-time creation and migration among processes.
	unlock, err := lockFile(filepath.Join(c.dir, "lock"))
	if err != nil {
		return c.wrap("open index: lock", err)
	}
	defer unlock()
	params := fmt.Sprintf("_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=on&_synchronous=NORMAL&_txlock=immediate&_cache_size=-65536",
		busyTimeout.Milliseconds())
	db, err := sql.Open("sqlite3", dsn(path, params))
	if err != nil {
		return c.wrap("open index", err)
	}
	c.db = db
	if err := c.migrate(context.Background()); err != nil {
		db.Close()
		if errors.Is(err, ErrNotCache) {
			return &Error{Dir: c.dir, Err: err}
		}
		return c.wrap("open index", err)
	}
	if err := c.prepareStmts(); err != nil {
		c.closeStmts()
		db.Close()
		return c.wrap("open index: prepare statements", err)
	}
	return nil
}

// probeIndex reports an ErrNotCache error unless path is a SQLite database
// that is empty or carries dagrun's application id.
func probeIndex(path string) error {
	db, err := sql.Open("sqlite3", dsn(path, "mode=rw&_busy_timeout=30000"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = indexState(context.Background(), db)
	return err
}

// state is what openIndex needs to know about index.db.
type state struct {
	version int // PRAGMA user_version: migrations applied
	fresh   bool
}

// queryer is what *sql.DB and *sql.Tx have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func indexState(ctx context.Context, q queryer) (state, error) {
	var appID, version, objects int64
	// One statement, so one snapshot even outside a transaction.
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT application_id FROM pragma_application_id),
		(SELECT user_version FROM pragma_user_version),
		(SELECT count(*) FROM sqlite_schema)`).Scan(&appID, &version, &objects)
	var se sqlite3.Error
	switch {
	case errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt):
		return state{}, fmt.Errorf("%w (%v)", ErrNotCache, err)
	case err != nil:
		return state{}, err
	case appID == 0 && objects == 0:
		return state{fresh: true}, nil
	case appID == 0:
		return state{}, fmt.Errorf("%w (another program's SQLite database)", ErrNotCache)
	case appID != applicationID:
		return state{}, fmt.Errorf("%w (another program's SQLite database, application id %#x)", ErrNotCache, appID)
	}
	return state{version: int(version)}, nil
}

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number and \"_\"", e.Name())
		}
		b, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected number %d", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the pending migrations, each in its own transaction.
func (c *Cache) migrate(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	for {
		done := false
		err := c.writeTx(ctx, func(tx *sql.Tx) error {
			st, err := indexState(ctx, tx)
			if err != nil {
				return err
			}
			if st.version > len(ms) {
				return fmt.Errorf("schema version %d is newer than this dagrun knows (%d); upgrade dagrun", st.version, len(ms))
			}
			if st.version == len(ms) {
				done = true
				return nil
			}
			m := ms[st.version]
			if st.fresh {
				if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("migration %q: %w", m.name, err)
			}
			_, err = tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version))
			return err
		})
		if err != nil || done {
			return err
		}
	}
}

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE, from the DSN) and
// commits it when fn succeeds.
func (c *Cache) writeTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	return nil
}

// lockFile takes an exclusive flock on path, creating it, and returns the
// function that releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		f.Close()
	}, nil
}

// hashFile returns the sha256 hex of the regular file at path and counts
// the bytes read in HashedBytes. It refuses anything but a regular file
// before reading (a FIFO would block) and stops within a chunk when ctx is
// cancelled.
func (c *Cache) hashFile(ctx context.Context, path string) (string, int64, error) {
	f, _, err := openRegular(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	return c.hashReader(ctx, f)
}

func (c *Cache) hashReader(ctx context.Context, r io.Reader) (string, int64, error) {
	h := newHasher()
	n, err := copyCtx(ctx, h, r)
	c.hashed.Add(n)
	if err != nil {
		return "", n, err
	}
	return h.hex(), n, nil
}

// HashedBytes returns how many bytes this Cache has hashed so far, in
// FileDigest, Commit, Get (re-hashing a blob whose stat changed),
// MaterializeInputs, OpenLog's reader and Verify.
// Tests use it to prove that cached work hashes nothing.
func (c *Cache) HashedBytes() int64 { return c.hashed.Load() }
