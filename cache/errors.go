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

// ErrBadOutput is wrapped by Commit's (and HashDir's) errors for an output
// folder that cannot be stored faithfully: a symlink, a FIFO, a name with a
// control character, a file that changed while it was stored. It is the
// node's fault, not the cache's: callers report it as a node failure.
var ErrBadOutput = errors.New("output cannot be stored")

// badOutputError is an error that wraps ErrBadOutput without showing it.
type badOutputError struct{ msg string }

func (e *badOutputError) Error() string        { return e.msg }
func (e *badOutputError) Is(target error) bool { return target == ErrBadOutput }

func badOutputf(format string, args ...any) error {
	return &badOutputError{msg: fmt.Sprintf(format, args...)}
}

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
