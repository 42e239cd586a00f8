package cache

import (
	"errors"
	"fmt"
)

// ErrNotFound is returned (unwrapped) by Get and Metrics when the cache has
// no usable entry for the key.
var ErrNotFound = errors.New("cache: not found")

// ErrReadOnly is wrapped by the *Error that Open returns for a cache folder
// it may not write to.
var ErrReadOnly = errors.New("is read-only")

// ErrNotCache is wrapped by the *Error that Open returns when index.db is not
// a dagrun cache: not a SQLite database, a truncated one, or another
// program's database.
var ErrNotCache = errors.New("index.db is not a dagrun cache")

// Error is a failure of a cache operation: the index or the blob store could
// not be read or written. The CLI maps it to exit code 3.
type Error struct {
	Op  string // the operation, e.g. "open index" or "commit \"KEY\""; may be empty
	Dir string // the cache folder
	Err error  // the cause
}

// Error formats the error as `cache "DIR": OP: CAUSE`, or
// `cache "DIR" is read-only: DETAIL`.
func (e *Error) Error() string {
	switch {
	case e.Op == "" && errors.Is(e.Err, ErrReadOnly):
		return fmt.Sprintf("cache %q %v", e.Dir, e.Err)
	case e.Op == "":
		return fmt.Sprintf("cache %q: %v", e.Dir, e.Err)
	default:
		return fmt.Sprintf("cache %q: %s: %v", e.Dir, e.Op, e.Err)
	}
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// wrap returns err as a *Error for operation op, or nil when err is nil.
// ErrNotFound passes through unwrapped.
func (c *Cache) wrap(op string, err error) error {
	if err == nil || err == ErrNotFound {
		return err
	}
	return &Error{Op: op, Dir: c.dir, Err: err}
}
