package remote

import (
	"context"
	"sync"
)

// slots is a counting semaphore of Jobs request slots with two classes of
// waiters: a freed slot goes to the longest-waiting urgent one (an entry
// lookup, on which the walk of a pull waits before it can learn the next
// keys) before any other (a blob download, which only has to be done by the
// end). Within a class, waiters are served in arrival order.
type slots struct {
	mu           sync.Mutex
	free         int
	urgent, rest []chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// acquire takes a slot, waiting for one unless ctx ends first.
func (s *slots) acquire(ctx context.Context, urgent bool) error {
	s.mu.Lock()
	if s.free > 0 && len(s.urgent) == 0 && (urgent || len(s.rest) == 0) {
		s.free--
		s.mu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	q := &s.rest
	if urgent {
		q = &s.urgent
	}
	*q = append(*q, ch)
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			s.mu.Unlock()
			return ctx.Err()
		}
	}
	s.mu.Unlock()
	// Granted while ctx ended: hand the slot on.
	s.release()
	return ctx.Err()
}

// release frees a slot, handing it to the next waiter if there is one.
func (s *slots) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, q := range []*[]chan struct{}{&s.urgent, &s.rest} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	s.free++
}
