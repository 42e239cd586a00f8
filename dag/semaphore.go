package dag

import (
	"context"
	"sync"
)

// weighted is a FIFO weighted semaphore: a heavy waiter at the head is not
// starved by light ones behind it.
type weighted struct {
	mu      sync.Mutex
	size    int
	cur     int
	waiters []*waiter
}

type waiter struct {
	n     int
	ready chan struct{}
}

func newWeighted(n int) *weighted { return &weighted{size: n} }

func (s *weighted) Acquire(ctx context.Context, n int) error {
	if n > s.size {
		n = s.size
	}
	s.mu.Lock()
	if len(s.waiters) == 0 && s.cur+n <= s.size {
		s.cur += n
		s.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	s.waiters = append(s.waiters, w)
	s.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		select {
		case <-w.ready:
			// Granted while we were giving up: hand it back.
			s.cur -= n
			s.notify()
		default:
			for i, x := range s.waiters {
				if x == w {
					s.waiters = append(s.waiters[:i], s.waiters[i+1:]...)
					break
				}
			}
			s.notify()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

func (s *weighted) Release(n int) {
	if n > s.size {
		n = s.size
	}
	s.mu.Lock()
	s.cur -= n
	s.notify()
	s.mu.Unlock()
}

func (s *weighted) notify() {
	for len(s.waiters) > 0 {
		w := s.waiters[0]
		if s.cur+w.n > s.size {
			return
		}
		s.cur += w.n
		s.waiters = s.waiters[1:]
		close(w.ready)
	}
}
