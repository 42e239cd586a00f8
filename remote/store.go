package remote

import (
	"context"
	"errors"
	"io"
)

// ErrNotExist is returned (wrapped or not) by Store.Get for a missing object.
var ErrNotExist = errors.New("object does not exist")

// Store holds objects by name. Names are slash-separated and made of hex
// digits, letters and "/" only. Put makes an object visible whole or not at
// all, and replacing an object with the same content is harmless.
type Store interface {
	// Get opens an object; a missing one is an error wrapping ErrNotExist.
	Get(ctx context.Context, name string) (io.ReadCloser, error)
	// Put stores size bytes read from r under name.
	Put(ctx context.Context, name string, r io.Reader, size int64) error
	// Has reports whether an object exists.
	Has(ctx context.Context, name string) (bool, error)
}
